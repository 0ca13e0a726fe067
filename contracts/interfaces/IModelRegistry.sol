// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Registered models: roots executors and clients check they run.
interface IModelRegistry {
    /// @notice Whether `modelRoot` is a registered, not deprecated, version of some model.
    function isRegisteredRoot(bytes32 modelRoot) external view returns (bool);
    /// @notice Root of the Merkle tree over the model's tile weight commitments
    ///         (leaf = keccak256(bytes.concat(keccak256(abi.encode(step, weightsCommitment))))),
    ///         the commitments a dispute's one-step proof is checked against. Zero if not registered.
    function tileRootOf(bytes32 modelRoot) external view returns (bytes32);
    /// @notice License fee per inference (token units) owed to the model owner, and the owner.
    function licenseOf(bytes32 modelRoot) external view returns (address owner, uint256 feePerInference);
}
