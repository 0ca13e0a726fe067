// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {ISettlement} from "./interfaces/ISettlement.sol";
import {IProtocolParams} from "./interfaces/IProtocolParams.sol";
import {IQuorumRegistry} from "./interfaces/IQuorumRegistry.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IGroth16Verifier} from "./interfaces/IGroth16Verifier.sol";
import {ReceiptLeaf} from "./lib/ReceiptLeaf.sol";

/// @title Batched, optimistic settlement of inference fees.
/// @notice Clients pre-fund a deposit. A settler posts a batch: the Merkle root of its
///         receipts, the Merkle root of the payouts they earn, the per-client debits and
///         the epoch quorum's aggregate BLS signature over all of it. The cost of a batch
///         grows with its distinct clients, never with its receipts: receipts and payouts
///         stay off chain behind their roots. After a challenge window, operators and
///         validators claim their payouts with Merkle proofs; a dispute freezes the batch
///         and, if a receipt is shown wrong, voids it and refunds every client.
/// @dev    runtime/chain/batch.ts builds the batch, its trees and the signed digest.
contract BatchSettlement is ISettlement, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice What the quorum signs, besides the roots (see batchDigest).
    struct BatchHeader {
        uint64 epoch;
        bytes32 receiptsRoot;
        uint32 receiptCount;
        bytes32 payoutsRoot;
    }

    /// @notice The fees one client owes for its receipts in a batch.
    struct Debit {
        address client;
        uint256 amount;
    }

    /// @notice The quorum's attestation: non-signers' keys, the signers' G2 aggregate, the signature.
    struct QuorumSig {
        uint256[2][] nonSignerPks;
        uint256[4] apkG2;
        uint256[2] sigma;
    }

    /// @dev Five slots per batch plus one per distinct client (the refund list).
    struct Batch {
        bytes32 receiptsRoot;
        bytes32 payoutsRoot;
        uint64 epoch;
        uint64 settledAt;
        uint64 challengeDeadline;
        BatchStatus status;
        uint16 openDisputes;
        uint32 receiptCount;
        uint128 operatorPool;
        uint128 validatorPool;
        uint128 treasuryShare;
    }

    struct WithdrawalRequest {
        uint128 amount;
        uint64 unlockAt;
    }

    /// @notice Domain tag of the batch digest, so a quorum signature over anything else never verifies here.
    bytes32 public constant BATCH_TYPEHASH = keccak256("verimesh.batch.v1");
    uint256 private constant BPS = 10_000;

    IERC20 public immutable token;
    IProtocolParams public immutable params;
    IQuorumRegistry public immutable quorums;
    INodeRegistry public immutable nodes;

    /// @notice The dispute game, the only caller of freeze/unfreeze/void.
    address public disputes;
    /// @notice Groth16 verifier of the receipt circuit (one public signal: the receipt statement).
    IGroth16Verifier public receiptVerifier;

    /// @notice The id the next settled batch gets; it is part of the signed digest.
    uint256 public nextBatchId;

    mapping(address client => uint256) private _deposits;
    mapping(address client => WithdrawalRequest) private _withdrawals;
    mapping(uint256 batchId => Batch) private _batches;
    /// @dev Debits packed as client << 96 | amount: one slot per client, read back only by voidBatch.
    mapping(uint256 batchId => uint256[]) private _debits;
    /// @dev Keyed by the payout leaf, which already includes the batch id.
    mapping(bytes32 leaf => bool) private _claimed;
    mapping(uint256 batchId => mapping(bytes32 receiptLeaf => bool)) private _proven;

    event DisputesSet(address indexed disputes);
    event ReceiptVerifierSet(address indexed verifier);
    event Deposited(address indexed client, address indexed from, uint256 amount);
    event WithdrawalRequested(address indexed client, uint256 amount, uint64 unlockAt);
    event Withdrawn(address indexed client, uint256 amount);
    event BatchSettled(
        uint256 indexed batchId,
        uint64 indexed epoch,
        bytes32 receiptsRoot,
        uint32 receiptCount,
        uint256 total,
        uint256 signedStake,
        uint256 totalStake
    );
    event BatchPools(uint256 indexed batchId, bytes32 payoutsRoot, uint256 operatorPool, uint256 validatorPool, uint256 treasuryShare, uint64 challengeDeadline);
    event BatchFinalized(uint256 indexed batchId, address indexed treasury, uint256 treasuryShare);
    event BatchFrozen(uint256 indexed batchId, uint16 openDisputes);
    event BatchUnfrozen(uint256 indexed batchId, uint16 openDisputes);
    event BatchVoided(uint256 indexed batchId, uint256 refunded);
    event PayoutClaimed(uint256 indexed batchId, address indexed account, uint8 kind, uint256 amount);
    event ReceiptProven(uint256 indexed batchId, bytes32 indexed receiptLeaf, bytes32 requestId, uint256 proofStatement);

    error ZeroAddress();
    error ZeroAmount();
    error NotDisputes(address caller);
    error InsufficientDeposit(address client, uint256 have, uint256 need);
    error NoWithdrawalRequested(address client);
    error WithdrawalLocked(address client, uint64 unlockAt);
    error EmptyBatch();
    error NoPayoutsRoot();
    error DebitsNotSorted(uint256 index);
    error DebitTooLarge(address client, uint256 amount);
    error StaleEpoch(uint64 epoch, uint64 currentEpoch);
    error FutureEpoch(uint64 epoch, uint64 currentEpoch);
    error QuorumNotCommitted(uint64 epoch);
    error UnknownBatch(uint256 batchId);
    error BatchNotOpen(uint256 batchId, BatchStatus status);
    error BatchIsFrozen(uint256 batchId);
    error BatchIsVoided(uint256 batchId);
    error ChallengeWindowOpen(uint256 batchId, uint64 challengeDeadline);
    error NotFrozen(uint256 batchId);
    error InvalidKind(uint8 kind);
    error InvalidPayoutProof(uint256 batchId, address account, uint8 kind, uint256 amount);
    error AlreadyClaimed(uint256 batchId, address account, uint8 kind);
    error PoolExceeded(uint256 batchId, uint8 kind, uint256 remaining, uint256 amount);
    error ReceiptNotInBatch(uint256 batchId, bytes32 receiptLeaf);
    error NoProofStatement(bytes32 requestId);
    error VerifierNotSet();
    error InvalidReceiptProof(uint256 batchId, bytes32 receiptLeaf);
    error AlreadyProven(uint256 batchId, bytes32 receiptLeaf);

    modifier onlyDisputes() {
        if (msg.sender != disputes) revert NotDisputes(msg.sender);
        _;
    }

    /// @param owner_ The timelock: it alone wires the dispute game and the receipt verifier.
    /// @param nodes_ Source of the current epoch, so a batch signed by a stale quorum is refused.
    constructor(IERC20 token_, IProtocolParams params_, IQuorumRegistry quorums_, INodeRegistry nodes_, address owner_)
        Ownable(owner_)
    {
        if (address(token_) == address(0) || address(params_) == address(0) || address(quorums_) == address(0) || address(nodes_) == address(0)) {
            revert ZeroAddress();
        }
        token = token_;
        params = params_;
        quorums = quorums_;
        nodes = nodes_;
    }

    // ---- governance --------------------------------------------------------------

    /// @notice Set the dispute game. Set once at deployment, later only by a timelocked proposal.
    function setDisputes(address disputes_) external onlyOwner {
        if (disputes_ == address(0)) revert ZeroAddress();
        disputes = disputes_;
        emit DisputesSet(disputes_);
    }

    /// @notice Set the receipt circuit's verifier (new keys mean a new verifier).
    function setReceiptVerifier(IGroth16Verifier verifier) external onlyOwner {
        if (address(verifier) == address(0)) revert ZeroAddress();
        receiptVerifier = verifier;
        emit ReceiptVerifierSet(address(verifier));
    }

    // ---- client deposits --------------------------------------------------------------

    function deposit(uint256 amount) external nonReentrant {
        _deposit(msg.sender, amount);
    }

    /// @notice Fund someone else's deposit (a gateway paying for its users, for example).
    function depositFor(address client, uint256 amount) external nonReentrant {
        if (client == address(0)) revert ZeroAddress();
        _deposit(client, amount);
    }

    function _deposit(address client, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        _deposits[client] += amount;
        emit Deposited(client, msg.sender, amount);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Announce a withdrawal; it can be taken after params.withdrawalDelay().
    /// @dev The amount stays in the deposit, debitable, during the delay: a batch the quorum
    ///      is signing right now still finds the funds it was built against. A new request
    ///      replaces the previous one and restarts the delay; amount 0 cancels.
    function requestWithdrawal(uint256 amount) external {
        if (amount > type(uint128).max) revert InsufficientDeposit(msg.sender, _deposits[msg.sender], amount);
        uint64 unlockAt = uint64(block.timestamp) + params.withdrawalDelay();
        _withdrawals[msg.sender] = WithdrawalRequest({amount: uint128(amount), unlockAt: unlockAt});
        emit WithdrawalRequested(msg.sender, amount, unlockAt);
    }

    /// @notice Take the requested amount, or what is left of the deposit if batches debited it since.
    function withdraw() external nonReentrant returns (uint256 amount) {
        WithdrawalRequest memory w = _withdrawals[msg.sender];
        if (w.amount == 0) revert NoWithdrawalRequested(msg.sender);
        if (block.timestamp < w.unlockAt) revert WithdrawalLocked(msg.sender, w.unlockAt);
        uint256 have = _deposits[msg.sender];
        amount = w.amount < have ? w.amount : have;
        delete _withdrawals[msg.sender];
        _deposits[msg.sender] = have - amount;
        emit Withdrawn(msg.sender, amount);
        if (amount > 0) token.safeTransfer(msg.sender, amount);
    }

    function depositOf(address client) external view returns (uint256) {
        return _deposits[client];
    }

    function withdrawalOf(address client) external view returns (uint256 amount, uint64 unlockAt) {
        WithdrawalRequest memory w = _withdrawals[client];
        return (w.amount, w.unlockAt);
    }

    // ---- settlement --------------------------------------------------------------

    /// @notice What the epoch's quorum signs for batch `batchId`. Binds the chain, this
    ///         contract and the batch id, so a signature is good for exactly one batch here,
    ///         and the current fee split, which the payouts tree was cut for: a split changed
    ///         by governance after signing invalidates the signature rather than the pools.
    function batchDigest(uint256 batchId, BatchHeader calldata h, Debit[] calldata debits) public view returns (bytes32) {
        (uint16 operatorBps, uint16 validatorBps, uint16 treasuryBps) = params.feeSplit();
        return keccak256(
            abi.encode(
                BATCH_TYPEHASH,
                block.chainid,
                address(this),
                batchId,
                h.epoch,
                h.receiptsRoot,
                h.receiptCount,
                h.payoutsRoot,
                keccak256(abi.encode(debits)),
                operatorBps,
                validatorBps,
                treasuryBps
            )
        );
    }

    /// @notice Settle the next batch. Anyone may submit it: the quorum signature is the authority.
    /// @param debits One entry per client, strictly ascending by address (no duplicates).
    function settleBatch(BatchHeader calldata h, Debit[] calldata debits, QuorumSig calldata sig)
        external
        nonReentrant
        returns (uint256 batchId)
    {
        if (h.receiptCount == 0) revert EmptyBatch();
        uint64 current = nodes.currentEpoch();
        if (h.epoch > current) revert FutureEpoch(h.epoch, current);
        // The previous epoch's quorum may still settle what it signed before the epoch turned.
        if (h.epoch + 1 < current) revert StaleEpoch(h.epoch, current);
        if (!quorums.isCommitted(h.epoch)) revert QuorumNotCommitted(h.epoch);

        batchId = nextBatchId;
        (uint256 signedStake, uint256 totalStake) =
            quorums.verifyQuorum(h.epoch, batchDigest(batchId, h, debits), sig.nonSignerPks, sig.apkG2, sig.sigma);
        nextBatchId = batchId + 1;
        uint256 total = _debit(batchId, debits);
        _open(batchId, h, total);
        emit BatchSettled(batchId, h.epoch, h.receiptsRoot, h.receiptCount, total, signedStake, totalStake);
    }

    /// @dev Take each client's fees out of its deposit and keep the list for a refund.
    function _debit(uint256 batchId, Debit[] calldata debits) private returns (uint256 total) {
        uint256[] storage packed = _debits[batchId];
        address prev;
        for (uint256 i; i < debits.length; ++i) {
            address client = debits[i].client;
            uint256 amount = debits[i].amount;
            if (client <= prev) revert DebitsNotSorted(i);
            if (amount == 0) revert ZeroAmount();
            if (amount > type(uint96).max) revert DebitTooLarge(client, amount);
            uint256 have = _deposits[client];
            if (have < amount) revert InsufficientDeposit(client, have, amount);
            unchecked {
                _deposits[client] = have - amount;
                total += amount;
            }
            packed.push((uint256(uint160(client)) << 96) | amount);
            prev = client;
        }
    }

    /// @dev Split the total and store the batch. Operators take the remainder of the split,
    ///      so the three parts sum to the total exactly.
    function _open(uint256 batchId, BatchHeader calldata h, uint256 total) private {
        // Fees with nowhere to be claimed from would be locked in the contract for good.
        if (total > 0 && h.payoutsRoot == bytes32(0)) revert NoPayoutsRoot();
        (, uint16 validatorBps, uint16 treasuryBps) = params.feeSplit();
        uint256 treasuryShare = total * treasuryBps / BPS;
        uint256 validatorPool = total * validatorBps / BPS;
        uint256 operatorPool = total - treasuryShare - validatorPool;
        uint64 deadline = uint64(block.timestamp) + params.challengeWindow();
        _batches[batchId] = Batch({
            receiptsRoot: h.receiptsRoot,
            payoutsRoot: h.payoutsRoot,
            epoch: h.epoch,
            settledAt: uint64(block.timestamp),
            challengeDeadline: deadline,
            status: BatchStatus.Pending,
            openDisputes: 0,
            receiptCount: h.receiptCount,
            // Each debit is < 2^96, so the total and its parts fit in 128 bits for any
            // batch under 2^32 clients.
            operatorPool: uint128(operatorPool),
            validatorPool: uint128(validatorPool),
            treasuryShare: uint128(treasuryShare)
        });
        emit BatchPools(batchId, h.payoutsRoot, operatorPool, validatorPool, treasuryShare, deadline);
    }

    /// @notice Close a batch whose challenge window has passed and pay the treasury its share.
    ///         The first claim does this implicitly.
    function finalize(uint256 batchId) external nonReentrant {
        _finalize(batchId);
    }

    /// @notice Pay `account` its payout of kind `kind` from batch `batchId`. Anyone may call
    ///         on the account's behalf; the funds always go to `account`.
    function claim(uint256 batchId, address account, uint8 kind, uint256 amount, bytes32[] calldata proof)
        external
        nonReentrant
    {
        if (kind > ReceiptLeaf.VALIDATOR) revert InvalidKind(kind);
        Batch storage b = _batches[batchId];
        if (b.status != BatchStatus.Final) _finalize(batchId);

        bytes32 leaf = ReceiptLeaf.payoutHash(batchId, account, kind, amount);
        if (_claimed[leaf]) revert AlreadyClaimed(batchId, account, kind);
        if (!MerkleProof.verifyCalldata(proof, b.payoutsRoot, leaf)) revert InvalidPayoutProof(batchId, account, kind, amount);
        uint256 remaining = kind == ReceiptLeaf.OPERATOR ? b.operatorPool : b.validatorPool;
        if (amount > remaining) revert PoolExceeded(batchId, kind, remaining, amount);

        _claimed[leaf] = true;
        unchecked {
            // amount <= remaining < 2^128
            if (kind == ReceiptLeaf.OPERATOR) b.operatorPool = uint128(remaining - amount);
            else b.validatorPool = uint128(remaining - amount);
        }
        emit PayoutClaimed(batchId, account, kind, amount);
        if (amount > 0) token.safeTransfer(account, amount);
    }

    function _finalize(uint256 batchId) private {
        Batch storage b = _batches[batchId];
        BatchStatus s = b.status;
        if (s == BatchStatus.None) revert UnknownBatch(batchId);
        if (s == BatchStatus.Frozen) revert BatchIsFrozen(batchId);
        if (s == BatchStatus.Voided) revert BatchIsVoided(batchId);
        if (s == BatchStatus.Final) revert BatchNotOpen(batchId, s);
        if (block.timestamp <= b.challengeDeadline) revert ChallengeWindowOpen(batchId, b.challengeDeadline);
        uint256 share = b.treasuryShare;
        address treasury = params.treasury();
        b.status = BatchStatus.Final;
        b.treasuryShare = 0;
        emit BatchFinalized(batchId, treasury, share);
        if (share > 0) token.safeTransfer(treasury, share);
    }

    /// @notice Whether a payout leaf has been claimed.
    function isClaimed(uint256 batchId, address account, uint8 kind, uint256 amount) external view returns (bool) {
        return _claimed[ReceiptLeaf.payoutHash(batchId, account, kind, amount)];
    }

    /// @notice Pools still unclaimed and the treasury share not yet paid.
    function poolsOf(uint256 batchId)
        external
        view
        returns (uint256 operatorPool, uint256 validatorPool, uint256 treasuryShare, bytes32 payoutsRoot, uint32 receiptCount)
    {
        Batch storage b = _batches[batchId];
        return (b.operatorPool, b.validatorPool, b.treasuryShare, b.payoutsRoot, b.receiptCount);
    }

    /// @notice The batch's debits (client, amount), as refunded if it is voided.
    function debitsOf(uint256 batchId) external view returns (Debit[] memory out) {
        uint256[] storage packed = _debits[batchId];
        out = new Debit[](packed.length);
        for (uint256 i; i < packed.length; ++i) {
            uint256 p = packed[i];
            out[i] = Debit({client: address(uint160(p >> 96)), amount: p & type(uint96).max});
        }
    }

    // ---- receipts and proofs -----------------------------------------------------

    /// @notice Whether `r` is a leaf of the batch's receipts tree.
    function receiptIncluded(uint256 batchId, ReceiptLeaf.Receipt calldata r, bytes32[] calldata proof)
        public
        view
        returns (bool)
    {
        return MerkleProof.verifyCalldata(proof, _batches[batchId].receiptsRoot, ReceiptLeaf.hash(r))
            && _batches[batchId].status != BatchStatus.None;
    }

    /// @notice Settle a receipt's correctness with a receipt-circuit proof instead of the
    ///         challenge game: once proven, disputes against it are refused.
    function finalizeReceiptWithProof(
        uint256 batchId,
        ReceiptLeaf.Receipt calldata r,
        bytes32[] calldata receiptProof,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) external {
        IGroth16Verifier verifier = receiptVerifier;
        if (address(verifier) == address(0)) revert VerifierNotSet();
        Batch storage batch = _batches[batchId];
        if (batch.status == BatchStatus.None) revert UnknownBatch(batchId);
        if (batch.status == BatchStatus.Voided) revert BatchIsVoided(batchId);
        bytes32 leaf = ReceiptLeaf.hash(r);
        if (!MerkleProof.verifyCalldata(receiptProof, batch.receiptsRoot, leaf)) revert ReceiptNotInBatch(batchId, leaf);
        if (r.proofStatement == 0) revert NoProofStatement(r.requestId);
        if (_proven[batchId][leaf]) revert AlreadyProven(batchId, leaf);
        if (!verifier.verifyProof(a, b, c, [r.proofStatement])) revert InvalidReceiptProof(batchId, leaf);
        _proven[batchId][leaf] = true;
        emit ReceiptProven(batchId, leaf, r.requestId, r.proofStatement);
    }

    function isReceiptProven(uint256 batchId, bytes32 receiptLeaf) external view returns (bool) {
        return _proven[batchId][receiptLeaf];
    }

    // ---- ISettlement (the dispute game) -----------------------------------------------

    /// @inheritdoc ISettlement
    /// @dev Claims open once block.timestamp > challengeDeadline; disputes must open at or before it.
    function batchInfo(uint256 batchId)
        external
        view
        returns (bytes32 receiptsRoot, uint64 epoch, uint64 settledAt, uint64 challengeDeadline, BatchStatus status)
    {
        Batch storage b = _batches[batchId];
        return (b.receiptsRoot, b.epoch, b.settledAt, b.challengeDeadline, b.status);
    }

    function openDisputesOf(uint256 batchId) external view returns (uint16) {
        return _batches[batchId].openDisputes;
    }

    /// @inheritdoc ISettlement
    /// @dev Counts open disputes; the batch stays frozen until each is resolved.
    function freezeBatch(uint256 batchId) external onlyDisputes {
        Batch storage b = _batches[batchId];
        BatchStatus s = b.status;
        if (s != BatchStatus.Pending && s != BatchStatus.Frozen) revert BatchNotOpen(batchId, s);
        uint16 open = b.openDisputes + 1;
        b.openDisputes = open;
        b.status = BatchStatus.Frozen;
        emit BatchFrozen(batchId, open);
    }

    /// @inheritdoc ISettlement
    /// @dev A no-op on a voided batch: the void already ended every dispute's stake in it,
    ///      and the other disputes must still be able to resolve.
    function unfreezeBatch(uint256 batchId) external onlyDisputes {
        Batch storage b = _batches[batchId];
        if (b.status == BatchStatus.Voided) return;
        if (b.status != BatchStatus.Frozen) revert NotFrozen(batchId);
        uint16 open = b.openDisputes - 1;
        b.openDisputes = open;
        if (open == 0) b.status = BatchStatus.Pending;
        emit BatchUnfrozen(batchId, open);
    }

    /// @inheritdoc ISettlement
    /// @dev Idempotent, for the same reason as unfreezeBatch. A final batch cannot be voided:
    ///      its payouts may already have left.
    function voidBatch(uint256 batchId) external onlyDisputes nonReentrant {
        Batch storage b = _batches[batchId];
        BatchStatus s = b.status;
        if (s == BatchStatus.Voided) return;
        if (s != BatchStatus.Pending && s != BatchStatus.Frozen) revert BatchNotOpen(batchId, s);
        b.status = BatchStatus.Voided;
        b.openDisputes = 0;
        b.operatorPool = 0;
        b.validatorPool = 0;
        b.treasuryShare = 0;
        uint256[] storage packed = _debits[batchId];
        uint256 refunded;
        for (uint256 i; i < packed.length; ++i) {
            uint256 p = packed[i];
            uint256 amount = p & type(uint96).max;
            _deposits[address(uint160(p >> 96))] += amount;
            refunded += amount;
        }
        emit BatchVoided(batchId, refunded);
    }
}
