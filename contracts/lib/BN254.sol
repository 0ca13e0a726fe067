// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title BN254 (alt_bn128) arithmetic over the EIP-196/197 precompiles.
/// @notice G1 points are `uint256[2]` (x, y) with (0, 0) as the point at infinity, as the
///         precompiles encode them. G2 points are `uint256[4]` in EIP-197 order
///         (x.im, x.re, y.im, y.re): that is the order the pairing precompile reads, so keys
///         can go from calldata to the precompile without shuffling.
/// @dev Every precompile call checks its success flag and reverts with a custom error:
///      a precompile fails on points that are off the curve (or, for G2, outside the
///      subgroup) and on out-of-gas, and silently reading its zeroed output would turn
///      "invalid input" into "valid point at infinity" or "pairing holds".
library BN254 {
    /// @notice Base field modulus p.
    uint256 internal constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Group order r (scalar field modulus).
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice (p + 1) / 4: since p ≡ 3 (mod 4), a^((p+1)/4) is a square root of a whenever a is a square.
    uint256 internal constant SQRT_EXP = 5472060717959818805561601436314318772174077789324455915672259473661306552146;

    // G2 generator in EIP-197 order (x.im, x.re, y.im, y.re).
    uint256 internal constant G2_X_IM = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2_X_RE = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2_Y_IM = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 internal constant G2_Y_RE = 8495653923123431417604973247489272438418190587263600148770280649306958101930;
    // −G2: same x, y negated (p − y per component).
    uint256 internal constant NEG_G2_Y_IM = 17805874995975841540914202342111839520379459829704422454583296818431106115052;
    uint256 internal constant NEG_G2_Y_RE = 13392588948715843804641432497768002650278120570034223513918757245338268106653;

    /// @notice Domain prefix of hashToG1, so a digest signed here cannot be replayed as a
    ///         signature of another protocol that maps the same 32 bytes to G1 the bare way
    ///         (EigenLayer's hashToG1 takes the digest as x directly).
    bytes19 internal constant H2C_DOMAIN = "verimesh.bls.h2c.v1";

    /// @notice The ECADD precompile (0x06) failed: an input is not on the curve.
    error EcAddFailed();
    /// @notice The ECMUL precompile (0x07) failed: the input is not on the curve.
    error EcMulFailed();
    /// @notice The pairing precompile (0x08) failed: a G1 point off the curve or a G2 point
    ///         off the twist / outside the r-torsion subgroup, or a coordinate ≥ p.
    error PairingFailed();
    /// @notice The MODEXP precompile (0x05) failed (out of gas only; it accepts any input).
    error ModExpFailed();
    /// @notice Pairing inputs of different lengths.
    error PairingLengthMismatch(uint256 g1s, uint256 g2s);

    /// @notice The G1 generator (1, 2).
    function g1() internal pure returns (uint256[2] memory) {
        return [uint256(1), uint256(2)];
    }

    /// @notice The G2 generator in EIP-197 order.
    function g2() internal pure returns (uint256[4] memory) {
        return [G2_X_IM, G2_X_RE, G2_Y_IM, G2_Y_RE];
    }

    /// @notice −G2 in EIP-197 order; pairing checks are written as a product equal to one.
    function negG2() internal pure returns (uint256[4] memory) {
        return [G2_X_IM, G2_X_RE, NEG_G2_Y_IM, NEG_G2_Y_RE];
    }

    /// @notice Whether `a` is the point at infinity (0, 0).
    function isInfinity(uint256[2] memory a) internal pure returns (bool) {
        return a[0] == 0 && a[1] == 0;
    }

    /// @notice Whether `a` is an affine point of y² = x³ + 3 with canonical coordinates.
    ///         G1 has cofactor 1, so on the curve means in the group. Infinity is not "on the curve" here:
    ///         callers that accept it test isInfinity first.
    function isOnCurve(uint256[2] memory a) internal pure returns (bool) {
        uint256 x = a[0];
        uint256 y = a[1];
        if (x >= P || y >= P) return false;
        return mulmod(y, y, P) == addmod(mulmod(mulmod(x, x, P), x, P), 3, P);
    }

    /// @notice a + b.
    function plus(uint256[2] memory a, uint256[2] memory b) internal view returns (uint256[2] memory r) {
        bool ok;
        assembly ("memory-safe") {
            // Scratch at the free pointer (not advanced: nothing else allocates before the call returns).
            let p := mload(0x40)
            mstore(p, mload(a))
            mstore(add(p, 0x20), mload(add(a, 0x20)))
            mstore(add(p, 0x40), mload(b))
            mstore(add(p, 0x60), mload(add(b, 0x20)))
            ok := staticcall(gas(), 0x06, p, 0x80, r, 0x40)
        }
        if (!ok) revert EcAddFailed();
    }

    /// @notice s · a.
    function scalarMul(uint256[2] memory a, uint256 s) internal view returns (uint256[2] memory r) {
        bool ok;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, mload(a))
            mstore(add(p, 0x20), mload(add(a, 0x20)))
            mstore(add(p, 0x40), s)
            ok := staticcall(gas(), 0x07, p, 0x60, r, 0x40)
        }
        if (!ok) revert EcMulFailed();
    }

    /// @notice −a (infinity stays infinity). Expects canonical coordinates (y < p).
    function negate(uint256[2] memory a) internal pure returns (uint256[2] memory) {
        if (a[0] == 0 && a[1] == 0) return a;
        return [a[0], P - (a[1] % P)];
    }

    /// @notice Whether e(a1, b1) · e(a2, b2) == 1: the one-pairing-check shape BLS needs,
    ///         without building dynamic arrays (45 000 + 2 × 34 000 gas in the precompile).
    function pairing2(uint256[2] memory a1, uint256[4] memory b1, uint256[2] memory a2, uint256[4] memory b2)
        internal
        view
        returns (bool)
    {
        uint256[12] memory input;
        input[0] = a1[0];
        input[1] = a1[1];
        input[2] = b1[0];
        input[3] = b1[1];
        input[4] = b1[2];
        input[5] = b1[3];
        input[6] = a2[0];
        input[7] = a2[1];
        input[8] = b2[0];
        input[9] = b2[1];
        input[10] = b2[2];
        input[11] = b2[3];
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x08, input, 0x180, out, 0x20)
        }
        if (!ok) revert PairingFailed();
        return out[0] == 1;
    }

    /// @notice Whether Π e(g1s[i], g2s[i]) == 1 (true for no pairs, as the precompile says).
    function pairing(uint256[2][] memory g1s, uint256[4][] memory g2s) internal view returns (bool) {
        uint256 n = g1s.length;
        if (n != g2s.length) revert PairingLengthMismatch(n, g2s.length);
        uint256[] memory input = new uint256[](n * 6);
        for (uint256 i = 0; i < n; ++i) {
            uint256 o = i * 6;
            input[o] = g1s[i][0];
            input[o + 1] = g1s[i][1];
            input[o + 2] = g2s[i][0];
            input[o + 3] = g2s[i][1];
            input[o + 4] = g2s[i][2];
            input[o + 5] = g2s[i][3];
        }
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x08, add(input, 0x20), mul(n, 0xc0), out, 0x20)
        }
        if (!ok) revert PairingFailed();
        return out[0] == 1;
    }

    /// @notice base^e mod p through the MODEXP precompile (EIP-198; 1 349 gas for a 254-bit exponent).
    function expModP(uint256 base, uint256 e) internal view returns (uint256 r) {
        bool ok;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, 0x20) // length of base
            mstore(add(p, 0x20), 0x20) // length of exponent
            mstore(add(p, 0x40), 0x20) // length of modulus
            mstore(add(p, 0x60), base)
            mstore(add(p, 0x80), e)
            mstore(add(p, 0xa0), P)
            ok := staticcall(gas(), 0x05, p, 0xc0, p, 0x20)
            r := mload(p)
        }
        if (!ok) revert ModExpFailed();
    }

    /// @notice Map a 32-byte digest to G1 by try-and-increment, EigenLayer's construction
    ///         with a domain prefix: h = keccak256(H2C_DOMAIN ‖ digest), x = h mod p; while
    ///         x³ + 3 is not a square, x = x + 1 (mod p); y = (x³ + 3)^((p+1)/4) mod p as the
    ///         precompile returns it (no sign normalisation: the off-chain mirror takes the same root).
    /// @dev Why this is safe for BLS: the point's discrete log is unknown to everyone because
    ///      x comes from a hash. The map is not uniform (x values just after long runs of
    ///      non-squares are likelier) and not constant-time, which costs some bits of
    ///      tightness in the security reduction but nothing an attacker can use to forge:
    ///      forging still needs a point with known discrete log. About half the x are squares,
    ///      so the expected cost is two MODEXP calls (~2 700 gas) and the loop ends fast.
    ///      The loop is assembly so a try costs the MODEXP and a few arithmetic opcodes only.
    function hashToG1(bytes32 digest) internal view returns (uint256[2] memory r) {
        uint256 x = uint256(keccak256(abi.encodePacked(H2C_DOMAIN, digest))) % P;
        bool ok = true;
        assembly ("memory-safe") {
            // MODEXP input (lengths, base, exponent, modulus) set up once; each try rewrites the base only.
            let buf := mload(0x40)
            mstore(buf, 0x20)
            mstore(add(buf, 0x20), 0x20)
            mstore(add(buf, 0x40), 0x20)
            mstore(add(buf, 0x80), SQRT_EXP)
            mstore(add(buf, 0xa0), P)
            for {} 1 {} {
                let beta := addmod(mulmod(mulmod(x, x, P), x, P), 3, P)
                mstore(add(buf, 0x60), beta)
                if iszero(staticcall(gas(), 0x05, buf, 0xc0, 0x00, 0x20)) {
                    ok := 0
                    break
                }
                let y := mload(0x00)
                if eq(mulmod(y, y, P), beta) {
                    mstore(r, x)
                    mstore(add(r, 0x20), y)
                    break
                }
                x := addmod(x, 1, P)
            }
        }
        if (!ok) revert ModExpFailed();
    }
}
