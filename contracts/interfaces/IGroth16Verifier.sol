// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The verifier snarkjs exports for a circuit with one public signal
///        (circuits/build/<name>/<name>Verifier.sol, contract Groth16Verifier).
interface IGroth16Verifier {
    function verifyProof(
        uint256[2] calldata pA,
        uint256[2][2] calldata pB,
        uint256[2] calldata pC,
        uint256[1] calldata pubSignals
    ) external view returns (bool);
}
