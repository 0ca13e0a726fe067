#include "groth16_verify.h"

namespace vm_zk {

namespace {

constexpr uint32_t MAX_IC_TABLES = 256;

Fq parse_fq(const std::string & s, const std::string & what, const char * shape_code) {
    U256 x;
    if (!Fq::dec_to_u256(s, x)) throw ZkError(shape_code, what + " must be a decimal integer string, got '" + s.substr(0, 90) + "'");
    if (detail::geq(x.v, FqParams::MOD)) throw ZkError("ZK_COORD_OUT_OF_RANGE", what + " is not below the base field modulus p");
    return Fq::to_mont(x);
}

// ψ on Jacobian coordinates: x = X/Z² and conj is a field automorphism, so
// ψ(X : Y : Z) = (conj(X)·c_x : conj(Y)·c_y : conj(Z)).
G2Jac psi_jac(const G2Jac & p) {
    G2Jac r;
    g2_psi(p.X, p.Y, r.X, r.Y);
    r.Z = p.Z.conj();
    return r;
}

} // namespace

G1Affine parse_g1(const G1Text & t, const std::string & what, const char * shape_code) {
    const Fq x = parse_fq(t.x, what + "[0]", shape_code);
    const Fq y = parse_fq(t.y, what + "[1]", shape_code);
    const Fq z = parse_fq(t.z, what + "[2]", shape_code);
    // ffjavascript's objects are Jacobian: affine = (x/z², y/z³), z = 0 is the identity.
    const G1Affine p = z.is_zero() ? G1Affine::infinity() : G1Jac{ x, y, z }.to_affine();
    if (!z.is_zero() && !p.on_curve()) throw ZkError("ZK_NOT_ON_CURVE", what + " is not a point of G1 (y² != x³ + 3)");
    return p;   // G1 has cofactor 1: on the curve means in the group
}

G2Affine parse_g2(const G2Text & t, const std::string & what, const char * shape_code) {
    const Fq2 x = { parse_fq(t.x0, what + "[0][0]", shape_code), parse_fq(t.x1, what + "[0][1]", shape_code) };
    const Fq2 y = { parse_fq(t.y0, what + "[1][0]", shape_code), parse_fq(t.y1, what + "[1][1]", shape_code) };
    const Fq2 z = { parse_fq(t.z0, what + "[2][0]", shape_code), parse_fq(t.z1, what + "[2][1]", shape_code) };
    if (z.is_zero()) return G2Affine::infinity();
    const G2Affine p = G2Jac{ x, y, z }.to_affine();
    if (!p.on_curve()) throw ZkError("ZK_NOT_ON_CURVE", what + " is not a point of the BN254 twist (y² != x³ + 3/(9+u))");
    if (!g2_in_subgroup(p)) throw ZkError("ZK_NOT_IN_SUBGROUP", what + " is on the twist but not in its order-r subgroup G2");
    return p;
}

bool g2_in_subgroup(const G2Affine & q) {
    if (q.is_inf()) return true;
    static const U256 x = { { 4965661367192848881ULL, 0, 0, 0 } };
    const G2Jac jq = G2Jac::from_affine(q);
    const G2Jac xq = jq.mul(x);
    const G2Jac psi1 = psi_jac(xq), psi2 = psi_jac(psi1);
    const G2Jac lhs = xq.add(jq).add(psi1).add(psi2);
    const G2Jac rhs = psi_jac(psi_jac(psi_jac(xq.dbl())));
    return lhs == rhs;
}

PreparedVk prepare_vk(const VkText & vk) {
    if (vk.protocol != "groth16") throw ZkError("ZK_WRONG_CURVE", "verification key protocol is '" + vk.protocol + "', expected 'groth16'");
    if (vk.curve != "bn128" && vk.curve != "bn254") {
        throw ZkError("ZK_WRONG_CURVE", "verification key curve is '" + vk.curve + "', only bn128 (BN254) is supported");
    }
    if (vk.n_public < 0 || (uint64_t) vk.n_public + 1 != vk.ic.size()) {
        throw ZkError("ZK_PUBLIC_COUNT", "verification key has nPublic = " + std::to_string(vk.n_public) + " but " +
                      std::to_string(vk.ic.size()) + " IC points (nPublic + 1 expected)");
    }
    PreparedVk p;
    p.n_public = (uint32_t) vk.n_public;
    p.alpha1 = parse_g1(vk.alpha1, "vk.vk_alpha_1", "ZK_BAD_VK_SHAPE");
    for (size_t i = 0; i < vk.ic.size(); ++i) p.ic.push_back(parse_g1(vk.ic[i], "vk.IC[" + std::to_string(i) + "]", "ZK_BAD_VK_SHAPE"));
    // 4-bit windows: 960 points (61 KB) per public input, 64 additions per
    // multiplication. Keys with very many public inputs (unusual: each costs gas
    // on chain) multiply by double-and-add instead of holding tables.
    if (p.n_public <= MAX_IC_TABLES) {
        for (size_t i = 1; i < p.ic.size(); ++i) p.ic_tables.emplace_back(p.ic[i], 4, 1);
    }
    auto prep = [](const G2Affine & q) { return q.is_inf() ? g2_prepare_infinity() : g2_prepare(q.x, q.y); };
    p.beta2 = prep(parse_g2(vk.beta2, "vk.vk_beta_2", "ZK_BAD_VK_SHAPE"));
    p.gamma2 = prep(parse_g2(vk.gamma2, "vk.vk_gamma_2", "ZK_BAD_VK_SHAPE"));
    p.delta2 = prep(parse_g2(vk.delta2, "vk.vk_delta_2", "ZK_BAD_VK_SHAPE"));
    const MillerTerm ab = { p.alpha1.x, p.alpha1.y, p.alpha1.is_inf(), &p.beta2 };
    p.alpha_beta = final_exponentiation(multi_miller_loop(&ab, 1));
    return p;
}

bool groth16_verify(const PreparedVk & vk, const ProofText & proof, const std::vector<std::string> & pub) {
    if (pub.size() != vk.n_public) {
        throw ZkError("ZK_PUBLIC_COUNT", "got " + std::to_string(pub.size()) + " public signals, the verification key expects " +
                      std::to_string(vk.n_public));
    }
    std::vector<U256> s(pub.size());
    for (size_t i = 0; i < pub.size(); ++i) {
        if (!Fr::dec_to_u256(pub[i], s[i]) || detail::geq(s[i].v, FrParams::MOD)) {
            throw ZkError("ZK_PUBLIC_OUT_OF_RANGE", "publicSignals[" + std::to_string(i) + "] = '" + pub[i].substr(0, 90) +
                          "' is not a decimal integer below the scalar field modulus r");
        }
    }
    const G1Affine a = parse_g1(proof.a, "proof.pi_a", "ZK_BAD_PROOF_SHAPE");
    const G2Affine b = parse_g2(proof.b, "proof.pi_b", "ZK_BAD_PROOF_SHAPE");
    const G1Affine c = parse_g1(proof.c, "proof.pi_c", "ZK_BAD_PROOF_SHAPE");

    G1Jac acc = G1Jac::from_affine(vk.ic[0]);
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i].is_zero()) continue;
        acc = acc.add(vk.ic_tables.empty() ? G1Jac::from_affine(vk.ic[i + 1]).mul(s[i]) : vk.ic_tables[i].mul(s[i]));
    }
    const G1Affine vk_x = acc.to_affine();
    const G2Prepared bp = b.is_inf() ? g2_prepare_infinity() : g2_prepare(b.x, b.y);
    const G1Affine na = a.neg();
    const MillerTerm terms[3] = {
        { na.x, na.y, na.is_inf(), &bp },
        { vk_x.x, vk_x.y, vk_x.is_inf(), &vk.gamma2 },
        { c.x, c.y, c.is_inf(), &vk.delta2 },
    };
    return (final_exponentiation(multi_miller_loop(terms, 3)) * vk.alpha_beta).is_one();
}

} // namespace vm_zk
