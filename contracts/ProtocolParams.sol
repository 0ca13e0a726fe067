// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IProtocolParams} from "./interfaces/IProtocolParams.sol";

/// @title Protocol parameters, owned by the governance timelock.
/// @notice One place for every tunable so a single timelocked proposal changes the protocol
///         everywhere at once. Each setter enforces bounds: governance can be captured or make
///         mistakes, and the bounds keep even a bad proposal from bricking settlement (zero
///         windows, 100% slashes, a zero treasury). Every change emits ParameterChanged with the
///         old and new value so off-chain settlers and dashboards can follow without polling.
contract ProtocolParams is IProtocolParams, Ownable {
    uint16 internal constant BPS = 10_000;

    // Bounds. Wide enough for any sane deployment, narrow enough to keep the protocol live.
    uint64 public constant MIN_WINDOW = 60; // 1 minute: below this honest parties cannot react
    uint64 public constant MAX_WINDOW = 30 days;
    uint64 public constant MIN_CADENCE = 1;
    uint64 public constant MAX_CADENCE = 1 days;
    uint64 public constant MAX_UNBONDING_DELAY = 90 days;
    uint32 public constant MAX_QUORUM_SIZE = 256;
    uint16 public constant MAX_SLASH_BPS = 5_000; // a single dispute never takes more than half the stake

    /// @notice A parameter value outside its bounds.
    error ValueOutOfRange(bytes32 name, uint256 value, uint256 min, uint256 max);
    /// @notice The three fee shares do not sum to 10_000 bps.
    error FeeSplitInvalid(uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps);
    /// @notice The treasury would be the zero address and its share would be burned by accident.
    error TreasuryZero();

    /// @notice Emitted for every numeric parameter change (fee split shares use their own names).
    event ParameterChanged(bytes32 indexed name, uint256 oldValue, uint256 newValue);
    event FeeSplitChanged(uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps);
    event TreasuryChanged(address indexed oldTreasury, address indexed newTreasury);

    uint256 public override minStake;
    uint256 public override disputeBond;
    address public override treasury;
    uint16 internal _operatorBps;
    uint16 internal _validatorBps;
    uint16 internal _treasuryBps;
    uint32 public override quorumSize;
    uint64 public override challengeWindow;
    uint64 public override settlementCadence;
    uint64 public override epochLength;
    uint64 public override unbondingDelay;
    uint64 public override withdrawalDelay;
    uint64 public override disputeResponseWindow;
    uint16 public override slashBps;
    uint16 public override challengerRewardBps;
    uint16 public override slashBurnBps;

    /// @param owner_ The timelock in deployments (the deployer only on devnets and in tests).
    /// @param treasury_ Receives the treasury share of fees and of slashes.
    constructor(address owner_, address treasury_) Ownable(owner_) {
        if (treasury_ == address(0)) revert TreasuryZero();
        treasury = treasury_;
        (_operatorBps, _validatorBps, _treasuryBps) = (7_800, 1_200, 1_000);
        quorumSize = 3;
        challengeWindow = 1 hours;
        settlementCadence = 30;
        epochLength = 1 hours;
        unbondingDelay = 7 days;
        withdrawalDelay = 1 days;
        slashBps = 1_000;
        challengerRewardBps = 5_000;
        slashBurnBps = 5_000;
        disputeBond = 100e18;
        disputeResponseWindow = 1 hours;
        minStake = 1_000e18;
    }

    /// @inheritdoc IProtocolParams
    function feeSplit() external view override returns (uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps) {
        return (_operatorBps, _validatorBps, _treasuryBps);
    }

    // ---- setters (owner = timelock) -------------------------------------------------------

    /// @notice Set the fee split; the shares must sum to exactly 10_000 so fees are conserved.
    function setFeeSplit(uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps) external onlyOwner {
        if (uint256(operatorBps) + validatorBps + treasuryBps != BPS) {
            revert FeeSplitInvalid(operatorBps, validatorBps, treasuryBps);
        }
        (_operatorBps, _validatorBps, _treasuryBps) = (operatorBps, validatorBps, treasuryBps);
        emit FeeSplitChanged(operatorBps, validatorBps, treasuryBps);
    }

    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert TreasuryZero();
        emit TreasuryChanged(treasury, newTreasury);
        treasury = newTreasury;
    }

    /// @notice Non-zero: a zero minimum would let unstaked keys into quorums.
    function setMinStake(uint256 value) external onlyOwner {
        _check("minStake", value, 1, type(uint128).max);
        emit ParameterChanged("minStake", minStake, value);
        minStake = value;
    }

    /// @notice Non-zero so disputes cost something and cannot be spammed for free.
    function setDisputeBond(uint256 value) external onlyOwner {
        _check("disputeBond", value, 1, type(uint128).max);
        emit ParameterChanged("disputeBond", disputeBond, value);
        disputeBond = value;
    }

    /// @notice At least one member; at most MAX_QUORUM_SIZE so aggregate verification stays within block gas.
    function setQuorumSize(uint32 value) external onlyOwner {
        _check("quorumSize", value, 1, MAX_QUORUM_SIZE);
        emit ParameterChanged("quorumSize", quorumSize, value);
        quorumSize = value;
    }

    /// @notice Capped by the unbonding delay (see setUnbondingDelay): stake must still be
    ///         slashable for the whole window of the last batch its operator touched.
    function setChallengeWindow(uint64 value) external onlyOwner {
        _check("challengeWindow", value, MIN_WINDOW, unbondingDelay < MAX_WINDOW ? unbondingDelay : MAX_WINDOW);
        emit ParameterChanged("challengeWindow", challengeWindow, value);
        challengeWindow = value;
    }

    function setSettlementCadence(uint64 value) external onlyOwner {
        _check("settlementCadence", value, MIN_CADENCE, MAX_CADENCE);
        emit ParameterChanged("settlementCadence", settlementCadence, value);
        settlementCadence = value;
    }

    /// @notice Changing the epoch length re-numbers epochs for registries that read it; governance
    ///         should only do so together with the registries' migration.
    function setEpochLength(uint64 value) external onlyOwner {
        _check("epochLength", value, MIN_WINDOW, MAX_WINDOW);
        emit ParameterChanged("epochLength", epochLength, value);
        epochLength = value;
    }

    /// @notice Must stay at least the challenge window, or an operator could unbond and
    ///         withdraw before a dispute against its last batch resolves. Checked against the
    ///         current challenge window; raise the delay before the window.
    function setUnbondingDelay(uint64 value) external onlyOwner {
        _check("unbondingDelay", value, challengeWindow, MAX_UNBONDING_DELAY);
        emit ParameterChanged("unbondingDelay", unbondingDelay, value);
        unbondingDelay = value;
    }

    function setWithdrawalDelay(uint64 value) external onlyOwner {
        _check("withdrawalDelay", value, MIN_WINDOW, MAX_WINDOW);
        emit ParameterChanged("withdrawalDelay", withdrawalDelay, value);
        withdrawalDelay = value;
    }

    function setDisputeResponseWindow(uint64 value) external onlyOwner {
        _check("disputeResponseWindow", value, MIN_WINDOW, MAX_WINDOW);
        emit ParameterChanged("disputeResponseWindow", disputeResponseWindow, value);
        disputeResponseWindow = value;
    }

    /// @notice Slash ratios. slashBps in (0, MAX_SLASH_BPS]; the two shares of a slash in [0, 10_000].
    function setSlashing(uint16 slashBps_, uint16 challengerRewardBps_, uint16 slashBurnBps_) external onlyOwner {
        _check("slashBps", slashBps_, 1, MAX_SLASH_BPS);
        _check("challengerRewardBps", challengerRewardBps_, 0, BPS);
        _check("slashBurnBps", slashBurnBps_, 0, BPS);
        emit ParameterChanged("slashBps", slashBps, slashBps_);
        emit ParameterChanged("challengerRewardBps", challengerRewardBps, challengerRewardBps_);
        emit ParameterChanged("slashBurnBps", slashBurnBps, slashBurnBps_);
        (slashBps, challengerRewardBps, slashBurnBps) = (slashBps_, challengerRewardBps_, slashBurnBps_);
    }

    function _check(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure {
        if (value < min || value > max) revert ValueOutOfRange(name, value, min, max);
    }
}
