// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Verimesh timelock: owns ProtocolParams and the registries' admin functions.
/// @notice Every governance decision waits `minDelay` here after the vote, so operators and
///         clients who disagree with a parameter change can exit (unbond, withdraw) before
///         it takes effect. A plain TimelockController; its own contract so deployments and
///         artifacts have a stable name.
contract VerimeshTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
