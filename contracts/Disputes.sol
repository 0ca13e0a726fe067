// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IProtocolParams} from "./interfaces/IProtocolParams.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {ITileVerifier} from "./interfaces/ITileVerifier.sol";
import {ReceiptLeaf} from "./lib/ReceiptLeaf.sol";

/// @title Verimesh dispute game: bisection over a receipt's execution trace down to one tile step.
/// @notice A settled receipt commits to its execution as a hash chain of tile-step statements:
///         h_0 = keccak256(abi.encode("verimesh.trace.v1", requestId, modelRoot)),
///         h_{i+1} = keccak256(abi.encode(h_i, i, statement_i)), traceRoot = h_steps.
///         A challenger who computes a different chain opens a dispute against the receipt's
///         executor (the defender). The defender posts the hash at the midpoint of the interval
///         still in dispute; the challenger says whether it agrees, which halves the interval.
///         Once one step is left (lo, lo + 1), with h_lo agreed and h_{lo+1} claimed by the
///         defender, the defender must show a statement that chains h_lo to h_{lo+1} and a
///         Groth16 proof of that tile step with the weights the model registry holds for step
///         lo. A side that does not move within the response window loses by timeout.
///         The defender is honest whenever its trace is (it can always prove its own steps);
///         a defender with a wrong step cannot prove it, so it times out and is slashed.
/// @dev Soundness limit (docs/disputes.md): the one-step check proves that statement_lo is a
///      correct tile step for the registered weights at index lo. It does not check that the
///      step's INPUT commitment equals the previous step's OUTPUT, nor that step 0's input is
///      the request's input: an executor can chain individually correct steps over inputs of
///      its choosing. Binding consecutive steps needs the input and output commitments public
///      too (or a step circuit that takes both statements); not done yet.
///      Several challengers may dispute the same receipt at once, each in its own game (one
///      open game per receipt and challenger): with only one game per receipt, a dishonest
///      executor could open a sham dispute on its own wrong receipt from another address and
///      drag it past the challenge window, locking honest challengers out.
contract Disputes is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Domain tag of h_0; changes if the trace format ever does.
    string public constant TRACE_DOMAIN = "verimesh.trace.v1";
    /// @notice Share of a losing challenger's bond paid to the defender (bps); the rest goes
    ///         to the treasury. The defender's share pays for its moves; the treasury's share
    ///         makes a sham challenge (an executor challenging itself from another address to
    ///         freeze a batch) cost something even though the defender is its own accomplice.
    uint16 public constant DEFENDER_BOND_SHARE_BPS = 5_000;
    uint16 internal constant BPS = 10_000;

    /// @notice Who moves next.
    enum Party { Defender, Challenger }
    /// @notice Open while the game runs; the other two say who won.
    enum Status { None, Open, DefenderWon, ChallengerWon }

    struct Dispute {
        // slot 0
        address challenger;
        uint32 lo;
        uint32 hi;
        Party turn;
        Status status;
        // slot 1
        address defender;
        uint64 deadline;
        // the rest
        uint256 batchId;
        bytes32 receiptHash;
        bytes32 modelRoot;
        /// @dev h_lo: the latest hash both sides agree on (h_0 at the start).
        bytes32 hLo;
        /// @dev h_hi: the defender's hash at hi, which the challenger disputes.
        bytes32 hHi;
        /// @dev The defender's hash at (lo + hi) / 2, waiting for the challenger's answer.
        bytes32 hMid;
        /// @dev The bond as it was when the dispute opened (the parameter may change since).
        uint256 bond;
    }

    IERC20 public immutable token;
    IProtocolParams public immutable params;
    INodeRegistry public immutable registry;
    IModelRegistry public immutable models;
    ISettlement public immutable settlement;
    /// @notice Groth16 verifier of the tile circuit; governance rotates it with the circuit's keys.
    ITileVerifier public tileVerifier;

    uint256 public disputeCount;
    mapping(uint256 disputeId => Dispute) internal _disputes;
    /// @notice Open game of (batch, receipt leaf, challenger), 0 if none.
    mapping(bytes32 key => uint256 disputeId) public openDisputeOf;

    event DisputeOpened(
        uint256 indexed disputeId,
        uint256 indexed batchId,
        bytes32 indexed receiptHash,
        address defender,
        address challenger,
        uint32 steps,
        bytes32 challengerRoot,
        uint256 bond,
        uint64 deadline
    );
    event Bisected(uint256 indexed disputeId, uint32 mid, bytes32 hMid, uint64 deadline);
    event Responded(uint256 indexed disputeId, bool agree, uint32 lo, uint32 hi, uint64 deadline);
    event StepProven(uint256 indexed disputeId, uint32 step, uint256 statement, uint256 weightsCommitment);
    event TimedOut(uint256 indexed disputeId, Party party);
    /// @notice `slashed` is what the registry took from the defender (zero when the defender won);
    ///         `toDefender` / `toTreasury` / `refunded` split the challenger's bond.
    event DisputeResolved(
        uint256 indexed disputeId,
        Status outcome,
        uint256 slashed,
        uint256 toDefender,
        uint256 toTreasury,
        uint256 refunded
    );
    event TileVerifierChanged(address indexed oldVerifier, address indexed newVerifier);

    error ZeroAddress();
    error ChallengeWindowClosed(uint256 batchId, uint64 challengeDeadline);
    error BatchNotChallengeable(uint256 batchId, ISettlement.BatchStatus status);
    error ReceiptNotInBatch(uint256 batchId, bytes32 receiptHash);
    error RootNotDisputed(bytes32 traceRoot);
    error NoSteps();
    error ModelNotDisputable(bytes32 modelRoot);
    error SelfChallenge(address executor);
    error DisputeAlreadyOpen(uint256 disputeId);
    error UnknownDispute(uint256 disputeId);
    error DisputeClosed(uint256 disputeId, Status status);
    /// @notice The caller is not the side to move, or that side is not asked for this move.
    error NotYourTurn(uint256 disputeId, address expected, address caller);
    error DeadlinePassed(uint256 disputeId, uint64 deadline);
    error DeadlineNotReached(uint256 disputeId, uint64 deadline);
    /// @notice bisect or respond when one step is left, or proveStep while more are.
    error BisectionOver(uint256 disputeId, uint32 lo, uint32 hi);
    error BisectionNotOver(uint256 disputeId, uint32 lo, uint32 hi);
    error WrongStepHash(uint256 disputeId, bytes32 expected, bytes32 got);
    error WeightsNotRegistered(bytes32 modelRoot, uint32 step, uint256 weightsCommitment);
    error InvalidStepProof(uint256 disputeId);

    /// @param owner_ Governance (the timelock); may rotate the tile verifier.
    constructor(
        IERC20 token_,
        IProtocolParams params_,
        INodeRegistry registry_,
        IModelRegistry models_,
        ISettlement settlement_,
        address tileVerifier_,
        address owner_
    ) Ownable(owner_) {
        if (
            address(token_) == address(0) || address(params_) == address(0) || address(registry_) == address(0)
                || address(models_) == address(0) || address(settlement_) == address(0) || tileVerifier_ == address(0)
        ) revert ZeroAddress();
        token = token_;
        params = params_;
        registry = registry_;
        models = models_;
        settlement = settlement_;
        tileVerifier = ITileVerifier(tileVerifier_);
        emit TileVerifierChanged(address(0), tileVerifier_);
    }

    /// @notice New circuit keys mean a new verifier; games already open use the new one too,
    ///         so a rotation should wait until none is open (or be a fix of a broken verifier).
    function setTileVerifier(address verifier) external onlyOwner {
        if (verifier == address(0)) revert ZeroAddress();
        emit TileVerifierChanged(address(tileVerifier), verifier);
        tileVerifier = ITileVerifier(verifier);
    }

    /// @notice h_0 of a receipt's trace.
    function traceStart(bytes32 requestId, bytes32 modelRoot) public pure returns (bytes32) {
        return keccak256(abi.encode(TRACE_DOMAIN, requestId, modelRoot));
    }

    /// @notice h_{step+1} from h_step and statement_step.
    function traceNext(bytes32 h, uint256 step, uint256 statement) public pure returns (bytes32) {
        return keccak256(abi.encode(h, step, statement));
    }

    /// @notice A game's whole state, for the parties' clients (runtime/chain/dispute-client.ts):
    ///         the interval, its two hashes, the pending mid hash, whose turn and until when.
    function disputeOf(uint256 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @notice Challenge receipt `r` of batch `batchId`, claiming its trace ends in `challengerRoot`.
    /// @dev The challenger posts params.disputeBond() (approve this contract first). The batch is
    ///      frozen until every game on it has ended.
    function openDispute(
        uint256 batchId,
        ReceiptLeaf.Receipt calldata r,
        bytes32[] calldata receiptProof,
        bytes32 challengerRoot
    ) external nonReentrant returns (uint256 disputeId) {
        bytes32 leaf = _admit(batchId, r, receiptProof, challengerRoot);
        bytes32 key = keccak256(abi.encode(batchId, leaf, msg.sender));
        uint256 existing = openDisputeOf[key];
        if (existing != 0) revert DisputeAlreadyOpen(existing);

        disputeId = ++disputeCount;
        uint256 bond = params.disputeBond();
        Dispute storage d = _disputes[disputeId];
        d.challenger = msg.sender;
        d.hi = r.steps;
        d.turn = Party.Defender;
        d.status = Status.Open;
        d.defender = r.executor;
        d.batchId = batchId;
        d.receiptHash = leaf;
        d.modelRoot = r.modelRoot;
        d.hLo = traceStart(r.requestId, r.modelRoot);
        d.hHi = r.traceRoot;
        d.bond = bond;
        _nextDeadline(d);
        openDisputeOf[key] = disputeId;
        // Settlement counts the freezes: the batch stays frozen until each game has ended.
        settlement.freezeBatch(batchId);

        _emitOpened(disputeId, d, challengerRoot);
        if (bond > 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    function _emitOpened(uint256 disputeId, Dispute storage d, bytes32 challengerRoot) internal {
        emit DisputeOpened(disputeId, d.batchId, d.receiptHash, d.defender, d.challenger, d.hi, challengerRoot, d.bond, d.deadline);
    }

    /// @dev openDispute's checks: the batch can be challenged, the receipt is in it, the claim differs.
    function _admit(
        uint256 batchId,
        ReceiptLeaf.Receipt calldata r,
        bytes32[] calldata receiptProof,
        bytes32 challengerRoot
    ) internal view returns (bytes32 leaf) {
        (bytes32 receiptsRoot,,, uint64 challengeDeadline, ISettlement.BatchStatus bs) = settlement.batchInfo(batchId);
        if (bs != ISettlement.BatchStatus.Pending && bs != ISettlement.BatchStatus.Frozen) {
            revert BatchNotChallengeable(batchId, bs);
        }
        if (block.timestamp > challengeDeadline) revert ChallengeWindowClosed(batchId, challengeDeadline);
        leaf = ReceiptLeaf.hash(r);
        if (!MerkleProof.verifyCalldata(receiptProof, receiptsRoot, leaf)) revert ReceiptNotInBatch(batchId, leaf);
        if (challengerRoot == r.traceRoot) revert RootNotDisputed(r.traceRoot);
        if (r.steps == 0) revert NoSteps();
        if (msg.sender == r.executor) revert SelfChallenge(r.executor);
        // No registered tile tree: no one-step proof could ever succeed, so a game would
        // slash an honest executor by default. Such receipts are not disputable here.
        if (models.tileRootOf(r.modelRoot) == bytes32(0)) revert ModelNotDisputable(r.modelRoot);
    }

    /// @notice The defender's hash at mid = (lo + hi) / 2 of the interval still in dispute.
    function bisect(uint256 disputeId, bytes32 hMid) external {
        Dispute storage d = _open(disputeId);
        _mustMove(disputeId, d, Party.Defender);
        if (d.hi - d.lo <= 1) revert BisectionOver(disputeId, d.lo, d.hi);
        uint32 mid = d.lo + (d.hi - d.lo) / 2;
        d.hMid = hMid;
        d.turn = Party.Challenger;
        uint64 deadline = _nextDeadline(d);
        emit Bisected(disputeId, mid, hMid, deadline);
    }

    /// @notice The challenger's answer to the last bisection: `agree` if its own hash at mid is
    ///         the defender's, so the fault lies in the upper half; otherwise in the lower half.
    function respond(uint256 disputeId, bool agree) external {
        Dispute storage d = _open(disputeId);
        _mustMove(disputeId, d, Party.Challenger);
        uint32 mid = d.lo + (d.hi - d.lo) / 2;
        if (agree) (d.lo, d.hLo) = (mid, d.hMid);
        else (d.hi, d.hHi) = (mid, d.hMid);
        d.hMid = bytes32(0);
        d.turn = Party.Defender;
        uint64 deadline = _nextDeadline(d);
        emit Responded(disputeId, agree, d.lo, d.hi, deadline);
    }

    /// @notice The defender's last move: the statement of step lo, the Merkle proof that
    ///         `weightsCommitment` is the model's registered weights for step lo, and a Groth16
    ///         proof of the tile circuit with public signals [statement, weightsCommitment].
    ///         On success the defender wins and receives its share of the challenger's bond.
    function proveStep(
        uint256 disputeId,
        uint256 statement,
        uint256 weightsCommitment,
        bytes32[] calldata tileProof,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) external nonReentrant {
        Dispute storage d = _open(disputeId);
        _mustMove(disputeId, d, Party.Defender);
        uint32 lo = _checkStep(disputeId, d, statement, weightsCommitment, tileProof);
        if (!tileVerifier.verifyProof(a, b, c, _signals(statement, weightsCommitment))) revert InvalidStepProof(disputeId);
        emit StepProven(disputeId, lo, statement, weightsCommitment);
        _defenderWins(disputeId, d);
    }

    /// @dev The keccak checks of proveStep, before the costly pairing.
    function _checkStep(
        uint256 disputeId,
        Dispute storage d,
        uint256 statement,
        uint256 weightsCommitment,
        bytes32[] calldata tileProof
    ) internal view returns (uint32 lo) {
        lo = d.lo;
        if (d.hi - lo != 1) revert BisectionNotOver(disputeId, lo, d.hi);
        bytes32 got = traceNext(d.hLo, lo, statement);
        if (got != d.hHi) revert WrongStepHash(disputeId, d.hHi, got);
        bytes32 tileRoot = models.tileRootOf(d.modelRoot);
        bytes32 tileLeaf = keccak256(bytes.concat(keccak256(abi.encode(uint256(lo), weightsCommitment))));
        if (tileRoot == bytes32(0) || !MerkleProof.verifyCalldata(tileProof, tileRoot, tileLeaf)) {
            revert WeightsNotRegistered(d.modelRoot, lo, weightsCommitment);
        }
    }

    /// @dev In the order the tile circuit emits them (declaration order in circuits/lib/tile.circom).
    function _signals(uint256 statement, uint256 weightsCommitment) internal pure returns (uint256[2] memory) {
        return [statement, weightsCommitment];
    }

    /// @notice Ends a game whose side to move let its deadline pass; anyone may call it (the
    ///         outcome does not depend on the caller, so keepers can close games too).
    ///         Defender timed out: slashed (the registry pays the challenger's reward), bond
    ///         refunded, batch voided. Challenger timed out: the defender wins as if it proved.
    function timeout(uint256 disputeId) external nonReentrant {
        Dispute storage d = _open(disputeId);
        if (block.timestamp <= d.deadline) revert DeadlineNotReached(disputeId, d.deadline);
        emit TimedOut(disputeId, d.turn);
        if (d.turn == Party.Challenger) {
            _defenderWins(disputeId, d);
            return;
        }
        d.status = Status.ChallengerWon;
        _close(d);
        address defender = d.defender;
        uint256 amount = registry.slashableStakeOf(defender) * params.slashBps() / BPS;
        uint256 slashed = amount == 0 ? 0 : registry.slash(defender, amount, d.challenger, d.receiptHash);
        // Idempotent in Settlement: a second winning game on the same batch voids nothing more.
        settlement.voidBatch(d.batchId);
        uint256 bond = d.bond;
        emit DisputeResolved(disputeId, Status.ChallengerWon, slashed, 0, 0, bond);
        if (bond > 0) token.safeTransfer(d.challenger, bond);
    }

    function _defenderWins(uint256 disputeId, Dispute storage d) internal {
        d.status = Status.DefenderWon;
        _close(d);
        // One unfreeze per game (a no-op once another game voided the batch).
        settlement.unfreezeBatch(d.batchId);
        uint256 bond = d.bond;
        uint256 toDefender = bond * DEFENDER_BOND_SHARE_BPS / BPS;
        uint256 toTreasury = bond - toDefender;
        emit DisputeResolved(disputeId, Status.DefenderWon, 0, toDefender, toTreasury, 0);
        if (toDefender > 0) token.safeTransfer(d.defender, toDefender);
        if (toTreasury > 0) token.safeTransfer(params.treasury(), toTreasury);
    }

    function _close(Dispute storage d) internal {
        delete openDisputeOf[keccak256(abi.encode(d.batchId, d.receiptHash, d.challenger))];
    }

    function _open(uint256 disputeId) internal view returns (Dispute storage d) {
        d = _disputes[disputeId];
        if (d.status == Status.None) revert UnknownDispute(disputeId);
        if (d.status != Status.Open) revert DisputeClosed(disputeId, d.status);
    }

    function _mustMove(uint256 disputeId, Dispute storage d, Party side) internal view {
        address expected = side == Party.Defender ? d.defender : d.challenger;
        if (d.turn != side || msg.sender != expected) {
            revert NotYourTurn(disputeId, d.turn == Party.Defender ? d.defender : d.challenger, msg.sender);
        }
        if (block.timestamp > d.deadline) revert DeadlinePassed(disputeId, d.deadline);
    }

    function _nextDeadline(Dispute storage d) internal returns (uint64 deadline) {
        deadline = uint64(block.timestamp) + params.disputeResponseWindow();
        d.deadline = deadline;
    }
}
