// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title Verimesh token: pays inference fees, bonds node stake and carries governance votes.
/// @notice The whole supply is minted once at construction and there is no mint function,
///         so holders never face dilution by an admin key; supply only shrinks (slash burns,
///         voluntary burns). Votes (ERC20Votes, block-number clock) drive VerimeshGovernor;
///         permit lets clients deposit fees without a separate approve transaction.
contract VerimeshToken is ERC20, ERC20Burnable, ERC20Permit, ERC20Votes {
    /// @notice The initial holder was the zero address, which would burn the supply at birth.
    error InitialHolderZero();

    constructor(string memory name_, string memory symbol_, address initialHolder, uint256 initialSupply)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        if (initialHolder == address(0)) revert InitialHolderZero();
        _mint(initialHolder, initialSupply);
    }

    // Both ERC20 and ERC20Votes define _update; votes must move with balances.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    // ERC20Permit and Votes share one nonce space (Nonces) so a signature cannot be replayed across them.
    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
