// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The verifier snarkjs exports for a tile circuit (circuits/build/tile_*/tile_*Verifier.sol,
///        contract Groth16Verifier), whose public signals are [statement, weightsCommitment].
/// @notice The weights commitment is public on its own so the dispute contract can check it
///         against the model registry's tile tree with keccak alone (no Poseidon on chain).
interface ITileVerifier {
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[2] calldata pubSignals
    ) external view returns (bool);
}
