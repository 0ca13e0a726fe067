// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Node registry and staking: who runs a node, with what stake and which keys.
interface INodeRegistry {
    /// @notice Role bits of a node (NodeRegistry.ROLE_*): router 1, executor 2, prover 4, quorum 8, settler 16.
    function rolesOf(address operator) external view returns (uint8);
    /// @notice The current epoch: (block.timestamp - genesis) / epochLength.
    function currentEpoch() external view returns (uint64);
    /// @notice Start time (unix seconds) of `epoch`.
    function epochStart(uint64 epoch) external view returns (uint64);
    /// @notice A node with the quorum role, a BLS key, bonded stake >= minStake and no exit pending.
    function isActiveValidator(address operator) external view returns (bool);
    /// @notice Number of registered operators (active or not), for enumeration with operatorAt.
    function operatorCount() external view returns (uint256);
    function operatorAt(uint256 index) external view returns (address);
    /// @notice Bonded stake (excludes stake already unbonding).
    function bondedStakeOf(address operator) external view returns (uint256);
    /// @notice Everything still slashable: bonded plus unbonding, not yet withdrawn.
    function slashableStakeOf(address operator) external view returns (uint256);
    /// @notice The operator's BLS public key in G1 (x, y). Zero if none registered.
    function blsG1Of(address operator) external view returns (uint256[2] memory);
    /// @notice Take up to `amount` of the operator's slashable stake (bonded first, then
    ///         unbonding); pays the challenger reward to `beneficiary`, burns or sends the
    ///         rest to the treasury per the parameters. Only contracts governance made slashers.
    /// @return taken The amount actually removed from the operator.
    function slash(address operator, uint256 amount, address beneficiary, bytes32 reason) external returns (uint256 taken);
}
