// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IProtocolParams} from "../interfaces/IProtocolParams.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";

/// @title Test-only settlement for the dispute game: batches set directly, the dispute
///        contract's calls counted (the real BatchSettlement needs a BLS quorum per batch).
contract TestDisputeSettlement is ISettlement {
    struct B {
        bytes32 receiptsRoot;
        uint64 challengeDeadline;
        BatchStatus status;
        uint16 open;
    }

    mapping(uint256 => B) public batches;
    address public disputes;
    uint256 public freezes;
    uint256 public unfreezes;
    uint256 public voids;

    error NotDisputes(address caller);

    function setDisputes(address d) external {
        disputes = d;
    }

    function setBatch(uint256 batchId, bytes32 root, uint64 challengeDeadline, BatchStatus status) external {
        batches[batchId] = B(root, challengeDeadline, status, 0);
    }

    function batchInfo(uint256 batchId)
        external
        view
        returns (bytes32, uint64, uint64, uint64, BatchStatus)
    {
        B storage b = batches[batchId];
        return (b.receiptsRoot, 0, 0, b.challengeDeadline, b.status);
    }

    function freezeBatch(uint256 batchId) external {
        if (msg.sender != disputes) revert NotDisputes(msg.sender);
        freezes++;
        batches[batchId].open++;
        batches[batchId].status = BatchStatus.Frozen;
    }

    function unfreezeBatch(uint256 batchId) external {
        if (msg.sender != disputes) revert NotDisputes(msg.sender);
        unfreezes++;
        B storage b = batches[batchId];
        if (b.status == BatchStatus.Voided) return;
        if (--b.open == 0) b.status = BatchStatus.Pending;
    }

    function voidBatch(uint256 batchId) external {
        if (msg.sender != disputes) revert NotDisputes(msg.sender);
        voids++;
        batches[batchId].status = BatchStatus.Voided;
    }
}

/// @title Test-only node registry: stake deposited directly, slash split like NodeRegistry's
///        (challenger reward to the beneficiary, the rest to the treasury).
contract TestDisputeRegistry {
    IERC20 public immutable token;
    IProtocolParams public immutable params;
    mapping(address => uint256) public slashableStakeOf;
    address public slasher;

    event Slashed(address indexed operator, uint256 amount, address indexed beneficiary, uint256 reward, bytes32 reason);

    error NotSlasher(address caller);

    constructor(IERC20 token_, IProtocolParams params_) {
        token = token_;
        params = params_;
    }

    function setSlasher(address s) external {
        slasher = s;
    }

    function addStake(address operator, uint256 amount) external {
        token.transferFrom(msg.sender, address(this), amount);
        slashableStakeOf[operator] += amount;
    }

    function slash(address operator, uint256 amount, address beneficiary, bytes32 reason) external returns (uint256 taken) {
        if (msg.sender != slasher) revert NotSlasher(msg.sender);
        uint256 have = slashableStakeOf[operator];
        taken = amount < have ? amount : have;
        slashableStakeOf[operator] = have - taken;
        uint256 reward = taken * params.challengerRewardBps() / 10_000;
        token.transfer(beneficiary, reward);
        token.transfer(params.treasury(), taken - reward);
        emit Slashed(operator, taken, beneficiary, reward, reason);
    }
}

/// @title Test-only model registry: tile roots set directly.
contract TestDisputeModels {
    mapping(bytes32 => bytes32) public tileRootOf;

    function setTileRoot(bytes32 modelRoot, bytes32 root) external {
        tileRootOf[modelRoot] = root;
    }
}
