#pragma once

// Native Groth16 verification over BN254, for snarkjs's JSON shapes:
//   verification key  { protocol: "groth16", curve: "bn128", nPublic,
//                       vk_alpha_1, vk_beta_2, vk_gamma_2, vk_delta_2, IC }
//   proof             { pi_a, pi_b, pi_c }   (G1 [x, y, z], G2 [[x0, x1], [y0, y1], [z0, z1]],
//                                             decimal strings, Jacobian like ffjavascript:
//                                             z = 1 affine, z = 0 infinity)
//   public signals    decimal strings, each < r
// Check: e(-A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) == 1, vk_x = IC_0 + Σ s_i·IC_i.
//
// Malformed input throws ZkError with a precise code; a well-formed proof that
// does not verify returns false:
//   ZK_BAD_VK_SHAPE / ZK_BAD_PROOF_SHAPE  missing field, wrong type or arity,
//                                         not a decimal string (set by the binding)
//   ZK_WRONG_CURVE        vk.curve is not bn128 or vk.protocol is not groth16
//   ZK_COORD_OUT_OF_RANGE a coordinate >= p
//   ZK_NOT_ON_CURVE       a point is not on its curve (G1 or the twist)
//   ZK_NOT_IN_SUBGROUP    a G2 point is on the twist but not in the order-r subgroup
//   ZK_PUBLIC_COUNT       publicSignals.length != nPublic (or IC.length != nPublic + 1)
//   ZK_PUBLIC_OUT_OF_RANGE a public signal >= r (or not a decimal integer)

#include <cstdint>
#include <string>
#include <vector>

#include "binfile.h"
#include "curve.h"
#include "fixed_base.h"
#include "pairing.h"

namespace vm_zk {

struct G1Text { std::string x, y, z; };
struct G2Text { std::string x0, x1, y0, y1, z0, z1; };

struct VkText {
    std::string protocol, curve;
    int64_t n_public = -1;
    G1Text alpha1;
    G2Text beta2, gamma2, delta2;
    std::vector<G1Text> ic;
};

struct ProofText { G1Text a, c; G2Text b; };

struct PreparedVk {
    uint32_t n_public = 0;
    G1Affine alpha1;
    std::vector<G1Affine> ic;
    std::vector<FixedBase<Fq>> ic_tables;   // IC[1..]: vk_x without doublings
    G2Prepared beta2, gamma2, delta2;
    // e(α, β), a constant of the key: the product check needs three Miller
    // loops per proof instead of four (the final exponentiation is a homomorphism).
    Fq12 alpha_beta;
};

// Parses and validates the key and prepares its G2 lines (do this once per key).
PreparedVk prepare_vk(const VkText & vk);

// Throws on malformed proof or signals; returns whether the proof verifies.
bool groth16_verify(const PreparedVk & vk, const ProofText & proof, const std::vector<std::string> & public_signals);

// Point parsing and validation. `what` names the field in errors; `shape_code`
// is thrown for a coordinate that is not a decimal integer.
G1Affine parse_g1(const G1Text & t, const std::string & what, const char * shape_code);
G2Affine parse_g2(const G2Text & t, const std::string & what, const char * shape_code);

// Membership of the order-r subgroup of the twist without a 254-bit
// multiplication: [x+1]Q + ψ([x]Q) + ψ²([x]Q) == ψ³([2x]Q) (Housni, Guillevic,
// Piellard, eprint 2022/348, §3 and §5.1; the check gnark uses for BN254).
bool g2_in_subgroup(const G2Affine & q);

} // namespace vm_zk
