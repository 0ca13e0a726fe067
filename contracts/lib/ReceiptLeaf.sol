// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Leaves of a batch's receipts tree and payouts tree.
/// @notice Leaves are hashed twice (keccak256(bytes.concat(keccak256(abi.encode(...)))))
///         as OpenZeppelin's MerkleProof expects, so a leaf can never be read as an inner
///         node. runtime/chain/merkle.ts builds the same trees (sorted pairs).
library ReceiptLeaf {
    /// @notice One served inference as the quorum attested it.
    struct Receipt {
        bytes32 requestId;
        bytes32 modelRoot;
        address client;
        /// @dev The operator accountable for the execution: slashed if a dispute shows it wrong.
        address executor;
        uint256 fee;
        bytes32 outputHash;
        /// @dev Final value of the execution's step chain (the dispute game bisects it).
        bytes32 traceRoot;
        /// @dev Number of steps in that chain.
        uint32 steps;
        /// @dev Receipt circuit statement when proven, zero otherwise.
        uint256 proofStatement;
    }

    /// @notice Payout kinds in the payouts tree.
    uint8 internal constant OPERATOR = 0;
    uint8 internal constant VALIDATOR = 1;

    function hash(Receipt memory r) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(r))));
    }

    function payoutHash(uint256 batchId, address account, uint8 kind, uint256 amount) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(batchId, account, kind, amount))));
    }
}
