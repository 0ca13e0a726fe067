// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BN254} from "./BN254.sol";

/// @title BLS signatures over BN254, signatures in G1, public keys in G1 and G2.
/// @notice The EigenLayer scheme. A signer with secret sk has pkG1 = sk·G1 and
///         pkG2 = sk·G2 and signs a digest m as σ = sk·H(m), H = BN254.hashToG1.
///         Signatures and keys aggregate by addition. Signatures live in G1 because
///         G1 arithmetic is what the EVM has precompiles for: a contract can subtract
///         the G1 keys of non-signers from a stored aggregate (ECADD, 150 gas each),
///         which it could not do in G2. The G2 key exists only for the pairing; the
///         verifier is given the signers' aggregate G2 key and checks it matches the
///         G1 aggregate it computed itself, in the same pairing.
///
///         Digest layouts (all abi.encode, 32-byte words):
///         - message point: H(m) = hashToG1(m), see BN254.hashToG1 (domain "verimesh.bls.h2c.v1").
///         - random combination: γ = keccak256(abi.encode(digest, apkG1, apkG2, sigma)) mod r,
///           i.e. 1 + 2 + 4 + 2 = 9 words.
///         - proof of possession: popDigest = keccak256(abi.encode(POP_TAG, block.chainid, operator, pkG1[0], pkG1[1]))
///           with POP_TAG = keccak256("verimesh.bls.pop.v1"); 5 words, the address left-padded.
library BLS {
    /// @notice Domain tag of proof-of-possession digests. Protocol digests that quorums
    ///         sign (batch roots, attestations) are built with their own tags, so a PoP can
    ///         never be presented as a quorum signature, nor the reverse.
    bytes32 internal constant POP_TAG = keccak256("verimesh.bls.pop.v1");

    /// @notice Whether `sigma` is a valid aggregate signature of `digest` under the key
    ///         pair (apkG1, apkG2), which must hold the same secret.
    /// @dev One 2-pair pairing: e(σ + γ·apkG1, −G2) · e(H(m) + γ·G1, apkG2) == 1.
    ///      With apkG1 = a·G1, apkG2 = b·G2, σ = s·G1 and H(m) = h·G1 this says
    ///      s + γa = b(h + γ), i.e. (s − bh) + γ(a − b) = 0. γ is a hash of every input,
    ///      fixed only after the prover chose them, so unless a = b and s = bh the equation
    ///      holds with probability ~1/r. That is how the G2 key is tied to the G1 key we
    ///      subtracted non-signers from, without a second pairing check (two extra pairs,
    ///      68 000 gas) — the γ combination costs two ECMULs (12 000 gas).
    ///      Returns false, rather than reverting, for G1 inputs off the curve and for keys at
    ///      infinity (an all-zero key and signature would otherwise pass for any digest).
    ///      A malformed G2 key makes the pairing precompile fail: BN254.PairingFailed.
    function verify(bytes32 digest, uint256[2] memory apkG1, uint256[4] memory apkG2, uint256[2] memory sigma)
        internal
        view
        returns (bool)
    {
        if (!BN254.isOnCurve(apkG1) || !BN254.isOnCurve(sigma)) return false;
        if (apkG2[0] | apkG2[1] | apkG2[2] | apkG2[3] == 0) return false;
        uint256 gamma = uint256(keccak256(abi.encode(digest, apkG1, apkG2, sigma))) % BN254.R;
        uint256[2] memory h = BN254.hashToG1(digest);
        uint256[4] memory negG2 = BN254.negG2();
        // One 12-word buffer, laid out as the pairing input (lhs, −G2, rhs, apkG2), with the
        // ECMUL/ECADD results written in place: no intermediate arrays, no copies.
        uint256[12] memory buf;
        uint256 failed; // address of the precompile that failed, 0 if none
        uint256 result;
        assembly ("memory-safe") {
            // lhs = σ + γ·apkG1 → buf[0..1]
            mstore(buf, mload(apkG1))
            mstore(add(buf, 0x20), mload(add(apkG1, 0x20)))
            mstore(add(buf, 0x40), gamma)
            if iszero(staticcall(gas(), 0x07, buf, 0x60, buf, 0x40)) { failed := 0x07 }
            mstore(add(buf, 0x40), mload(sigma))
            mstore(add(buf, 0x60), mload(add(sigma, 0x20)))
            if iszero(staticcall(gas(), 0x06, buf, 0x80, buf, 0x40)) { failed := 0x06 }
            // rhs = H(m) + γ·G1 → buf[6..7]
            let r := add(buf, 0xc0)
            mstore(r, 1)
            mstore(add(r, 0x20), 2)
            mstore(add(r, 0x40), gamma)
            if iszero(staticcall(gas(), 0x07, r, 0x60, r, 0x40)) { failed := 0x07 }
            mstore(add(r, 0x40), mload(h))
            mstore(add(r, 0x60), mload(add(h, 0x20)))
            if iszero(staticcall(gas(), 0x06, r, 0x80, r, 0x40)) { failed := 0x06 }
            // −G2 → buf[2..5], apkG2 → buf[8..11]
            mstore(add(buf, 0x40), mload(negG2))
            mstore(add(buf, 0x60), mload(add(negG2, 0x20)))
            mstore(add(buf, 0x80), mload(add(negG2, 0x40)))
            mstore(add(buf, 0xa0), mload(add(negG2, 0x60)))
            mstore(add(buf, 0x100), mload(apkG2))
            mstore(add(buf, 0x120), mload(add(apkG2, 0x20)))
            mstore(add(buf, 0x140), mload(add(apkG2, 0x40)))
            mstore(add(buf, 0x160), mload(add(apkG2, 0x60)))
            if iszero(failed) {
                if iszero(staticcall(gas(), 0x08, buf, 0x180, 0x00, 0x20)) { failed := 0x08 }
                result := mload(0x00)
            }
        }
        if (failed == 0x07) revert BN254.EcMulFailed();
        if (failed == 0x06) revert BN254.EcAddFailed();
        if (failed == 0x08) revert BN254.PairingFailed();
        return result == 1;
    }

    /// @notice The digest an operator's BLS key signs to prove possession of its secret.
    /// @dev Binding the chain id and the operator address makes a proof non-transferable:
    ///      someone who copies a victim's public key and proof cannot register it under
    ///      another address or replay it on another chain.
    function popDigest(uint256 chainId, address operator, uint256[2] memory pkG1) internal pure returns (bytes32) {
        return keccak256(abi.encode(POP_TAG, chainId, operator, pkG1[0], pkG1[1]));
    }

    /// @notice Whether `sig` proves that whoever registers (pkG1, pkG2) for `operator` on this
    ///         chain knows their secret key.
    /// @dev The rogue-key defence: aggregate keys are sums, so without this an attacker could
    ///      register pk_rogue = x·G1 − Σ pk_honest and "sign" alone for a whole quorum. A key
    ///      whose owner can sign with it is a key whose discrete log the owner knows, and the
    ///      sum trick needs a key nobody knows the discrete log of. The check is a plain
    ///      BLS.verify, so it also proves pkG1 and pkG2 hold the same secret.
    function verifyPossession(address operator, uint256[2] memory pkG1, uint256[4] memory pkG2, uint256[2] memory sig)
        internal
        view
        returns (bool)
    {
        return verify(popDigest(block.chainid, operator, pkG1), pkG1, pkG2, sig);
    }
}
