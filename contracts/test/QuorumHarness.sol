// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IQuorumRegistry} from "../interfaces/IQuorumRegistry.sol";
import {QuorumRegistry} from "../QuorumRegistry.sol";

/// @title Test-only stand-ins for QuorumRegistry's tests and gas bench (compiled on demand by
///        runtime/chain/solc-harness.ts, never deployed by the devnet).
/// @notice A node registry whose validators, stakes, keys and epoch are set directly, so a test
///         can build a 64-member quorum in one transaction and exercise states (duplicate keys,
///         inactive nodes) the real NodeRegistry refuses to enter.
contract StubNodeRegistry is INodeRegistry {
    struct Op {
        bool active;
        uint256 stake;
        uint256[2] pk;
    }

    address[] private _ops;
    mapping(address => Op) private _nodes;
    uint64 public epoch;

    error NotImplemented();

    function setEpoch(uint64 e) external {
        epoch = e;
    }

    function addValidators(address[] calldata ops, uint256[2][] calldata pks, uint256[] calldata stakes) external {
        for (uint256 i; i < ops.length; ++i) {
            _ops.push(ops[i]);
            _nodes[ops[i]] = Op({active: true, stake: stakes[i], pk: pks[i]});
        }
    }

    function setActive(address op, bool active) external {
        _nodes[op].active = active;
    }

    function setStake(address op, uint256 stake) external {
        _nodes[op].stake = stake;
    }

    function rolesOf(address op) external view returns (uint8) {
        return _nodes[op].active ? 8 : 0;
    }

    function currentEpoch() external view returns (uint64) {
        return epoch;
    }

    function epochStart(uint64) external pure returns (uint64) {
        return 0;
    }

    function isActiveValidator(address op) external view returns (bool) {
        return _nodes[op].active;
    }

    function operatorCount() external view returns (uint256) {
        return _ops.length;
    }

    function operatorAt(uint256 index) external view returns (address) {
        return _ops[index];
    }

    function bondedStakeOf(address op) external view returns (uint256) {
        return _nodes[op].stake;
    }

    function slashableStakeOf(address op) external view returns (uint256) {
        return _nodes[op].stake;
    }

    function blsG1Of(address op) external view returns (uint256[2] memory) {
        return _nodes[op].pk;
    }

    function slash(address, uint256, address, bytes32) external pure returns (uint256) {
        revert NotImplemented();
    }
}

/// @notice The one parameter QuorumRegistry reads.
contract StubQuorumParams {
    uint32 public quorumSize;

    constructor(uint32 size) {
        quorumSize = size;
    }

    function setQuorumSize(uint32 size) external {
        quorumSize = size;
    }
}

/// @notice Gas of one verifyQuorum call as a contract (BatchSettlement) pays it: the external
///         call included, the transaction's intrinsic and calldata costs excluded.
contract QuorumGasProbe {
    function measure(
        IQuorumRegistry registry,
        uint64 epoch,
        bytes32 digest,
        uint256[2][] calldata nonSignerPks,
        uint256[4] calldata apkG2,
        uint256[2] calldata sigma
    ) external view returns (uint256 gasUsed, uint256 signedStake) {
        uint256 before = gasleft();
        (signedStake,) = registry.verifyQuorum(epoch, digest, nonSignerPks, apkG2, sigma);
        gasUsed = before - gasleft();
    }
}

