// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Protocol parameters, changed only by governance (the timelock owns them).
/// @notice Every other Verimesh contract reads its tunables here, so one timelocked
///         proposal changes the protocol everywhere at once.
interface IProtocolParams {
    /// @notice Smallest bonded stake (token units) a node needs to be an active validator.
    function minStake() external view returns (uint256);
    /// @notice Fee split in basis points; the three always sum to 10_000.
    function feeSplit() external view returns (uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps);
    /// @notice How many validators are sampled into an epoch's quorum.
    function quorumSize() external view returns (uint32);
    /// @notice Seconds after a batch settles during which its receipts can be challenged.
    function challengeWindow() external view returns (uint64);
    /// @notice Seconds a settler waits between batches (read by settlers off chain).
    function settlementCadence() external view returns (uint64);
    /// @notice Length of an epoch in seconds.
    function epochLength() external view returns (uint64);
    /// @notice Seconds between an unbond request and the withdrawal of that stake.
    function unbondingDelay() external view returns (uint64);
    /// @notice Seconds between a client's withdrawal request and the withdrawal of its deposit.
    function withdrawalDelay() external view returns (uint64);
    /// @notice Share of an operator's stake taken when it loses a dispute (bps).
    function slashBps() external view returns (uint16);
    /// @notice Share of a slashed amount paid to the challenger (bps); the rest is burned
    ///         or sent to the treasury according to slashBurnBps.
    function challengerRewardBps() external view returns (uint16);
    /// @notice Share of the non-reward part of a slash that is burned (bps); the rest goes to the treasury.
    function slashBurnBps() external view returns (uint16);
    /// @notice Bond (token units) a challenger posts when opening a dispute.
    function disputeBond() external view returns (uint256);
    /// @notice Seconds each party has to make its next move in a dispute.
    function disputeResponseWindow() external view returns (uint64);
    /// @notice Where the treasury's share of fees and slashes goes.
    function treasury() external view returns (address);
}
