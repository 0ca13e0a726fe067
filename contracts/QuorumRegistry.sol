// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IProtocolParams} from "./interfaces/IProtocolParams.sol";
import {IQuorumRegistry} from "./interfaces/IQuorumRegistry.sol";
import {BN254} from "./lib/BN254.sol";
import {BLS} from "./lib/BLS.sol";

/// @title Per-epoch validator quorums, sampled from the node registry and frozen.
/// @notice Once per epoch anyone calls commitQuorum: it samples up to params.quorumSize()
///         active validators and stores their aggregate G1 key, each member's stake and the
///         total. From then on a quorum signature costs one BLS check against "aggregate key
///         minus the keys of the members that did not sign" (the EigenLayer pattern): the
///         caller passes the non-signers' keys, each costs one storage read and one ECADD,
///         and the signers are never looped over.
/// @dev Stake is the bonded stake at commit time and stays frozen for the epoch: a member who
///      unbonds mid-epoch still counts with its old weight, which is sound because unbonding
///      stake stays slashable (NodeRegistry.slashableStakeOf) for the unbonding delay, and
///      governance keeps that delay longer than an epoch plus the challenge window.
contract QuorumRegistry is IQuorumRegistry {
    using SafeCast for uint256;

    /// @dev Three slots: a signature check reads all three once (6 300 gas cold).
    struct Quorum {
        uint256 apkX;
        uint256 apkY;
        uint128 totalStake;
        uint32 size;
        bool committed;
    }

    /// @dev One slot per member, keyed by its key hash, so a non-signer costs one cold SLOAD.
    ///      `isMember` separates "member with zero stake" from "not a member".
    struct Member {
        uint128 stake;
        bool isMember;
    }

    INodeRegistry public immutable registry;
    IProtocolParams public immutable params;

    mapping(uint64 epoch => Quorum) private _quorums;
    mapping(uint64 epoch => address[]) private _members;
    mapping(uint64 epoch => mapping(bytes32 pkHash => Member)) private _memberByPk;

    /// @notice The epoch's quorum was committed already; quorums are immutable once sampled.
    error QuorumAlreadyCommitted(uint64 epoch);
    /// @notice Only the current epoch and the next one can be committed.
    error EpochNotCommittable(uint64 epoch, uint64 currentEpoch);
    /// @notice No active validator (with a usable BLS key) to sample from.
    error NoActiveValidators(uint64 epoch);
    /// @notice verifyQuorum for an epoch whose quorum was never committed.
    error QuorumNotCommitted(uint64 epoch);
    /// @notice The non-signer at `index` is not a member of the epoch's quorum.
    error NotAQuorumMember(uint256 index, bytes32 pkHash);
    /// @notice Non-signer keys must be strictly ascending by key hash (which also rejects duplicates).
    error NonSignersNotSorted(uint256 index);
    /// @notice The signers hold less than two thirds of the quorum's stake.
    error InsufficientQuorumStake(uint256 signedStake, uint256 totalStake);
    /// @notice The aggregate signature does not verify under the signers' aggregate key.
    error InvalidQuorumSignature();
    error ZeroAddress();

    /// @notice The quorum of `epoch` was sampled: its members in sampling order and their total stake.
    event QuorumCommitted(uint64 indexed epoch, address[] members, uint256 totalStake);

    constructor(INodeRegistry registry_, IProtocolParams params_) {
        if (address(registry_) == address(0) || address(params_) == address(0)) revert ZeroAddress();
        registry = registry_;
        params = params_;
    }

    /// @inheritdoc IQuorumRegistry
    /// @dev Sampling: a partial Fisher–Yates shuffle over the registry's active validators,
    ///      position k swapped with k + keccak256(seed, k) mod (n − k), seeded by
    ///      keccak256(block.prevrandao, blockhash(block.number − 1), epoch). Each draw is
    ///      uniform up to a modulo bias below n / 2²⁵⁶.
    ///
    ///      What the seed does NOT give: unpredictability against a motivated caller. Both
    ///      inputs are known before a transaction lands and the next epoch can be committed
    ///      throughout the current one, so whoever commits chooses, by choosing the block,
    ///      among roughly (epoch length / block time) candidate quorums, and a block proposer
    ///      can additionally bias prevrandao by one bit per slot it is willing to miss. An
    ///      adversary controlling a fraction f of the active validators, grinding B blocks,
    ///      raises its probability of holding ≥ 2/3 of a quorum by at most a factor B; the
    ///      defence is a quorum large enough that this stays negligible (at f = 1/3 and
    ///      quorumSize 64 the binomial tail is ~2⁻²⁵ per draw, so ~2⁻¹³ after 4 096 tries) plus
    ///      keepers that commit as soon as the window opens. Sampling is uniform per validator
    ///      while the threshold is by stake: with unequal stakes the adversary's share of the
    ///      quorum's stake, not its head count, is what matters, so large quorums matter more.
    ///      A VRF or a RANDAO commit-reveal would remove the choice; the interface would not change.
    ///
    ///      Cost: one pass over all registered operators (two external views each) and, per
    ///      member, a key read, an ECADD and two SSTOREs; linear in the registry size, paid
    ///      once per epoch by whoever commits.
    function commitQuorum(uint64 epoch) external {
        Quorum storage q = _quorums[epoch];
        if (q.committed) revert QuorumAlreadyCommitted(epoch);
        uint64 current = registry.currentEpoch();
        if (epoch != current && epoch != current + 1) revert EpochNotCommittable(epoch, current);

        uint256 count = registry.operatorCount();
        address[] memory pool = new address[](count);
        uint256 n;
        for (uint256 i; i < count; ++i) {
            address op = registry.operatorAt(i);
            if (registry.isActiveValidator(op)) pool[n++] = op;
        }
        if (n == 0) revert NoActiveValidators(epoch);
        uint256 want = params.quorumSize();
        if (want > n) want = n;

        bytes32 seed = keccak256(abi.encode(block.prevrandao, blockhash(block.number - 1), epoch));
        address[] storage members = _members[epoch];
        mapping(bytes32 => Member) storage byPk = _memberByPk[epoch];
        uint256[2] memory apk;
        uint256 total;
        for (uint256 k; k < n && members.length < want; ++k) {
            uint256 j = k + uint256(keccak256(abi.encode(seed, k))) % (n - k);
            address op = pool[j];
            pool[j] = pool[k];
            pool[k] = op;

            uint256[2] memory pk = registry.blsG1Of(op);
            bytes32 h = keccak256(abi.encode(pk));
            // The registry refuses duplicate and malformed keys already; skipping here (and
            // drawing the next candidate) keeps one bad registry entry from making every
            // epoch uncommittable or corrupting the key-hash index.
            if (byPk[h].isMember || !BN254.isOnCurve(pk)) continue;
            uint256 stake = registry.bondedStakeOf(op);
            byPk[h] = Member({stake: stake.toUint128(), isMember: true});
            members.push(op);
            apk = BN254.plus(apk, pk);
            total += stake;
        }
        if (members.length == 0) revert NoActiveValidators(epoch);

        q.apkX = apk[0];
        q.apkY = apk[1];
        q.totalStake = total.toUint128();
        q.size = uint32(members.length);
        q.committed = true;
        emit QuorumCommitted(epoch, members, total);
    }

    /// @inheritdoc IQuorumRegistry
    function isCommitted(uint64 epoch) external view returns (bool) {
        return _quorums[epoch].committed;
    }

    /// @inheritdoc IQuorumRegistry
    function membersOf(uint64 epoch) external view returns (address[] memory) {
        return _members[epoch];
    }

    /// @inheritdoc IQuorumRegistry
    function quorumOf(uint64 epoch) external view returns (uint256[2] memory apk, uint256 totalStake, uint32 size) {
        Quorum storage q = _quorums[epoch];
        return ([q.apkX, q.apkY], q.totalStake, q.size);
    }

    /// @notice Stake a member carries in `epoch`'s quorum, by keccak256(abi.encode(pkG1)); zero and
    ///         false for a non-member.
    function memberStake(uint64 epoch, bytes32 pkHash) external view returns (uint256 stake, bool isMember) {
        Member storage m = _memberByPk[epoch][pkHash];
        return (m.stake, m.isMember);
    }

    /// @inheritdoc IQuorumRegistry
    /// @dev Requiring the non-signers sorted by key hash rejects duplicates in one comparison
    ///      per entry: a key listed twice would otherwise be subtracted twice from the aggregate
    ///      and its stake twice from the signed stake. The threshold is checked before the
    ///      pairing so an under-signed batch fails for the cheap reason.
    function verifyQuorum(
        uint64 epoch,
        bytes32 digest,
        uint256[2][] calldata nonSignerPks,
        uint256[4] calldata apkG2,
        uint256[2] calldata sigma
    ) external view returns (uint256 signedStake, uint256 totalStake) {
        Quorum storage q = _quorums[epoch];
        if (!q.committed) revert QuorumNotCommitted(epoch);
        totalStake = q.totalStake;
        signedStake = totalStake;

        uint256[2] memory apk = [q.apkX, q.apkY];
        if (nonSignerPks.length != 0) {
            uint256[2] memory missing;
            uint256 stakeMissing;
            (missing, stakeMissing) = _sumNonSigners(_memberByPk[epoch], nonSignerPks);
            signedStake -= stakeMissing;
            apk = BN254.plus(apk, BN254.negate(missing));
        }

        if (3 * signedStake < 2 * totalStake) revert InsufficientQuorumStake(signedStake, totalStake);
        if (!BLS.verify(digest, apk, apkG2, sigma)) revert InvalidQuorumSignature();
    }

    /// @dev Sum of the non-signers' keys and stakes, checking order and membership. In assembly
    ///      because it is the only per-non-signer cost of a batch: per key one calldata copy, one
    ///      keccak, one cold SLOAD (the Member slot) and one ECADD, ~2 600 gas in all.
    function _sumNonSigners(mapping(bytes32 => Member) storage byPk, uint256[2][] calldata pks)
        private
        view
        returns (uint256[2] memory sum, uint256 stake)
    {
        uint256 bad; // 1 + index of the first offending entry, 0 if none
        uint256 kind; // 1 unsorted, 2 not a member, 3 ECADD failed
        bytes32 badHash;
        uint256 len = pks.length;
        assembly ("memory-safe") {
            // [acc.x, acc.y, pk.x, pk.y] at the free pointer; ECADD writes acc in place.
            let buf := mload(0x40)
            mstore(buf, 0)
            mstore(add(buf, 0x20), 0)
            let base := byPk.slot
            let prev := 0
            for { let i := 0 } lt(i, len) { i := add(i, 1) } {
                calldatacopy(add(buf, 0x40), add(pks.offset, shl(6, i)), 0x40)
                let h := keccak256(add(buf, 0x40), 0x40)
                if iszero(gt(h, prev)) {
                    bad := add(i, 1)
                    kind := 1
                    break
                }
                prev := h
                mstore(0x00, h)
                mstore(0x20, base)
                let word := sload(keccak256(0x00, 0x40))
                // Member{uint128 stake; bool isMember}: isMember is bit 128.
                if iszero(and(shr(128, word), 0xff)) {
                    bad := add(i, 1)
                    kind := 2
                    badHash := h
                    break
                }
                // Distinct members' stakes sum to at most the total, which fits in uint128.
                stake := add(stake, and(word, 0xffffffffffffffffffffffffffffffff))
                if iszero(staticcall(gas(), 0x06, buf, 0x80, buf, 0x40)) {
                    bad := add(i, 1)
                    kind := 3
                    break
                }
            }
            mstore(sum, mload(buf))
            mstore(add(sum, 0x20), mload(add(buf, 0x20)))
        }
        if (bad != 0) {
            if (kind == 1) revert NonSignersNotSorted(bad - 1);
            if (kind == 2) revert NotAQuorumMember(bad - 1, badHash);
            revert BN254.EcAddFailed();
        }
    }
}
