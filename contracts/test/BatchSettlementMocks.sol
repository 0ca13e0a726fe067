// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BN254} from "../lib/BN254.sol";
import {BLS} from "../lib/BLS.sol";
import {ReceiptLeaf} from "../lib/ReceiptLeaf.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Test-only window onto ReceiptLeaf and MerkleProof, to check runtime/chain/merkle.ts against them.
contract TestReceiptLeaf {
    function hash(ReceiptLeaf.Receipt calldata r) external pure returns (bytes32) {
        return ReceiptLeaf.hash(r);
    }

    function payoutHash(uint256 batchId, address account, uint8 kind, uint256 amount) external pure returns (bytes32) {
        return ReceiptLeaf.payoutHash(batchId, account, kind, amount);
    }

    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}

/// @title Test-only epoch source for BatchSettlement (stands in for NodeRegistry.currentEpoch).
contract TestEpochClock {
    uint64 public currentEpoch;

    function setEpoch(uint64 epoch) external {
        currentEpoch = epoch;
    }
}

/// @title Test-only quorum registry: quorums set directly, signatures checked for real.
/// @notice Same check as IQuorumRegistry.verifyQuorum (aggregate key minus non-signers, BLS.verify,
///         3·signed ≥ 2·total) without the sampling from the node registry, so BatchSettlement's
///         tests exercise real BN254 signatures without staking a set of validators first.
contract TestQuorumRegistry {
    struct Quorum {
        uint256[2] apk;
        uint256 totalStake;
        uint32 size;
        bool committed;
    }

    mapping(uint64 => Quorum) private _quorums;
    mapping(uint64 => mapping(bytes32 => uint256)) private _stakeOf;

    error NotCommitted(uint64 epoch);
    error NonSignersNotSorted(uint256 index);
    error NotAMember(uint256 index);
    error InsufficientStake(uint256 signedStake, uint256 totalStake);
    error InvalidSignature();

    function setQuorum(uint64 epoch, uint256[2][] calldata pks, uint256[] calldata stakes) external {
        Quorum storage q = _quorums[epoch];
        uint256[2] memory apk;
        uint256 total;
        for (uint256 i; i < pks.length; ++i) {
            apk = BN254.plus(apk, pks[i]);
            _stakeOf[epoch][keccak256(abi.encode(pks[i]))] = stakes[i];
            total += stakes[i];
        }
        q.apk = apk;
        q.totalStake = total;
        q.size = uint32(pks.length);
        q.committed = true;
    }

    function isCommitted(uint64 epoch) external view returns (bool) {
        return _quorums[epoch].committed;
    }

    function verifyQuorum(
        uint64 epoch,
        bytes32 digest,
        uint256[2][] calldata nonSignerPks,
        uint256[4] calldata apkG2,
        uint256[2] calldata sigma
    ) external view returns (uint256 signedStake, uint256 totalStake) {
        Quorum storage q = _quorums[epoch];
        if (!q.committed) revert NotCommitted(epoch);
        uint256[2] memory apk = q.apk;
        totalStake = q.totalStake;
        signedStake = totalStake;
        bytes32 prev;
        for (uint256 i; i < nonSignerPks.length; ++i) {
            bytes32 h = keccak256(abi.encode(nonSignerPks[i]));
            if (h <= prev) revert NonSignersNotSorted(i);
            uint256 stake = _stakeOf[epoch][h];
            if (stake == 0) revert NotAMember(i);
            signedStake -= stake;
            apk = BN254.plus(apk, BN254.negate(nonSignerPks[i]));
            prev = h;
        }
        if (3 * signedStake < 2 * totalStake) revert InsufficientStake(signedStake, totalStake);
        if (!BLS.verify(digest, apk, apkG2, sigma)) revert InvalidSignature();
    }
}
