// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {BN254} from "../lib/BN254.sol";
import {BLS} from "../lib/BLS.sol";

/// @title Test-only window onto the BN254/BLS libraries (compiled by test/bls.test.ts, never deployed by the devnet).
contract BLSHarness {
    function hashToG1(bytes32 digest) external view returns (uint256[2] memory) {
        return BN254.hashToG1(digest);
    }

    function verify(bytes32 digest, uint256[2] memory apkG1, uint256[4] memory apkG2, uint256[2] memory sigma)
        external
        view
        returns (bool)
    {
        return BLS.verify(digest, apkG1, apkG2, sigma);
    }

    function popDigest(address operator, uint256[2] memory pkG1) external view returns (bytes32) {
        return BLS.popDigest(block.chainid, operator, pkG1);
    }

    function verifyPossession(address operator, uint256[2] memory pkG1, uint256[4] memory pkG2, uint256[2] memory sig)
        external
        view
        returns (bool)
    {
        return BLS.verifyPossession(operator, pkG1, pkG2, sig);
    }

    function plus(uint256[2] memory a, uint256[2] memory b) external view returns (uint256[2] memory) {
        return BN254.plus(a, b);
    }

    function scalarMul(uint256[2] memory a, uint256 s) external view returns (uint256[2] memory) {
        return BN254.scalarMul(a, s);
    }

    function negate(uint256[2] memory a) external pure returns (uint256[2] memory) {
        return BN254.negate(a);
    }

    function isOnCurve(uint256[2] memory a) external pure returns (bool) {
        return BN254.isOnCurve(a);
    }

    /// @dev Gas of the library verify alone, as a view cannot report it: call through eth_call and read the return.
    function verifyGas(bytes32 digest, uint256[2] memory apkG1, uint256[4] memory apkG2, uint256[2] memory sigma)
        external
        view
        returns (bool ok, uint256 gasUsed)
    {
        uint256 before = gasleft();
        ok = BLS.verify(digest, apkG1, apkG2, sigma);
        gasUsed = before - gasleft();
    }
}
