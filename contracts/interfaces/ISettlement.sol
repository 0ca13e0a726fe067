// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What the dispute game needs from Settlement.
interface ISettlement {
    enum BatchStatus { None, Pending, Frozen, Final, Voided }

    /// @notice A settled batch: its receipts root, the epoch whose quorum signed it,
    ///         when it settled and until when its receipts can be challenged.
    function batchInfo(uint256 batchId) external view returns (
        bytes32 receiptsRoot, uint64 epoch, uint64 settledAt, uint64 challengeDeadline, BatchStatus status
    );
    /// @notice Open disputes stop claims on the batch (only the dispute contract).
    function freezeBatch(uint256 batchId) external;
    /// @notice The last open dispute ended in the receipt's favour (only the dispute contract).
    function unfreezeBatch(uint256 batchId) external;
    /// @notice A receipt of the batch was shown wrong: every debit is refunded to its
    ///         client and nothing of the batch can be claimed (only the dispute contract).
    function voidBatch(uint256 batchId) external;
}
