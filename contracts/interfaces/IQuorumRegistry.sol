// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Per-epoch validator quorums and their BLS signature check.
/// @notice A quorum is sampled once per epoch from the active validators and frozen:
///         its aggregate G1 key, member stakes and total stake are stored, so a check
///         costs a fixed pairing plus a little per non-signer (the EigenLayer scheme:
///         aggregate key of the quorum minus the non-signers' keys).
interface IQuorumRegistry {
    /// @notice Sample and store the quorum of `epoch` (the current or next epoch); anyone may call.
    function commitQuorum(uint64 epoch) external;
    /// @notice Whether `epoch`'s quorum has been committed.
    function isCommitted(uint64 epoch) external view returns (bool);
    /// @notice Members of the epoch's quorum, in sampling order.
    function membersOf(uint64 epoch) external view returns (address[] memory);
    /// @notice Aggregate G1 key and total stake of the epoch's quorum.
    function quorumOf(uint64 epoch) external view returns (uint256[2] memory apk, uint256 totalStake, uint32 size);
    /// @notice Check an aggregate BLS signature over `digest` by the epoch's quorum.
    /// @param nonSignerPks G1 keys of quorum members that did not sign, sorted by
    ///        keccak256(abi.encode(pk)) ascending (rejects duplicates and outsiders).
    /// @param apkG2 The signers' aggregate key in G2 (EIP-197 order: x.im, x.re, y.im, y.re).
    /// @param sigma The aggregate signature in G1.
    /// @return signedStake Stake of the signers; reverts unless 3 * signed >= 2 * total.
    function verifyQuorum(
        uint64 epoch,
        bytes32 digest,
        uint256[2][] calldata nonSignerPks,
        uint256[4] calldata apkG2,
        uint256[2] calldata sigma
    ) external view returns (uint256 signedStake, uint256 totalStake);
}
