// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IProtocolParams} from "./interfaces/IProtocolParams.sol";
import {BLS} from "./lib/BLS.sol";

/// @title Node registry and staking.
/// @notice Operators register a node (libp2p peer id, roles, optional BLS key), bond stake in
///         the Verimesh token, and unbond it through a delay long enough for any dispute over
///         their recent work to be raised and resolved while the stake is still slashable.
///         Slashing is done by contracts governance designates (settlement, disputes); the
///         slashed amount is split between the challenger, a burn and the treasury per
///         ProtocolParams. The registry's token balance always equals totalBonded +
///         totalUnbonding: tokens enter only through stake and leave only through withdraw
///         and slash, each of which moves the totals by exactly what it transfers or burns.
/// @dev Lifecycle: register → stake → (requestUnbond → withdraw)* → exit → withdraw → deregister.
///      An exiting node can no longer stake or validate, but its unbonding stake stays
///      slashable until withdrawn; deregistering needs zero slashable stake and frees the
///      peer id and BLS key for reuse.
contract NodeRegistry is INodeRegistry, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint8 public constant ROLE_ROUTER = 1;
    uint8 public constant ROLE_EXECUTOR = 2;
    uint8 public constant ROLE_PROVER = 4;
    uint8 public constant ROLE_QUORUM = 8;
    uint8 public constant ROLE_SETTLER = 16;
    uint8 public constant ALL_ROLES = 31;
    /// @notice libp2p peer ids are multihashes; 64 bytes covers identity-hashed Ed25519/secp256k1
    ///         keys (38/39 bytes) and sha256-hashed RSA keys (34 bytes) with room to spare.
    uint256 public constant MAX_PEER_ID_LENGTH = 64;
    uint256 internal constant BPS = 10_000;

    struct Node {
        bytes peerId;
        uint8 roles;
        bool registered;
        bool exiting;
        uint64 unlockAt; // when `unbonding` becomes withdrawable
        uint256 bonded;
        uint256 unbonding;
        uint256[2] blsG1; // (0, 0) = no key
    }

    IERC20 public immutable token;
    IProtocolParams public immutable params;
    /// @notice Epoch 0 starts here (deployment time).
    uint64 public immutable genesis;

    uint256 public totalBonded;
    uint256 public totalUnbonding;

    mapping(address => Node) internal _nodes;
    address[] internal _operators;
    mapping(address => uint256) internal _indexPlusOne;
    /// @notice keccak256(peerId) → operator, so one libp2p identity cannot be claimed twice.
    mapping(bytes32 => address) public operatorOfPeerHash;
    /// @notice keccak256(abi.encode(blsG1)) → operator: one BLS key per operator, or an operator
    ///         could double its weight in an aggregate by registering the same key twice.
    mapping(bytes32 => address) public operatorOfBlsKey;
    mapping(address => bool) public isSlasher;

    error ZeroAddress();
    error AlreadyRegistered(address operator);
    error NotRegistered(address operator);
    error RolesInvalid(uint8 roles);
    error PeerIdInvalid(uint256 length);
    error PeerIdTaken(address holder);
    error BlsKeyTaken(address holder);
    /// @notice The quorum role needs a BLS key to sign attestations.
    error BlsKeyRequired();
    /// @notice The proof of possession does not verify: the registrant does not hold the BLS
    ///         secret key, which would allow rogue-key attacks on aggregate signatures.
    error InvalidPossession();
    error ZeroAmount();
    error InsufficientBonded(uint256 requested, uint256 bonded);
    error NothingToWithdraw();
    error UnbondingLocked(uint64 unlockAt);
    error NodeIsExiting(address operator);
    error StakeRemaining(uint256 slashable);
    error NotSlasher(address caller);

    event NodeRegistered(
        address indexed operator, bytes peerId, uint8 roles, uint256[2] blsG1, uint256[4] blsG2
    );
    event RolesUpdated(address indexed operator, uint8 oldRoles, uint8 newRoles);
    event Staked(address indexed operator, uint256 amount, uint256 bonded);
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint64 unlockAt);
    event Withdrawn(address indexed operator, uint256 amount);
    event ExitStarted(address indexed operator, uint256 unbonding, uint64 unlockAt);
    event NodeDeregistered(address indexed operator);
    event SlasherSet(address indexed slasher, bool allowed);
    event Slashed(
        address indexed operator,
        address indexed slasher,
        address indexed beneficiary,
        bytes32 reason,
        uint256 taken,
        uint256 reward,
        uint256 burned,
        uint256 toTreasury
    );

    /// @param owner_ The governance timelock: it alone names slashers.
    constructor(IERC20 token_, IProtocolParams params_, address owner_) Ownable(owner_) {
        if (address(token_) == address(0) || address(params_) == address(0)) revert ZeroAddress();
        token = token_;
        params = params_;
        genesis = uint64(block.timestamp);
    }

    modifier onlyRegistered() {
        if (!_nodes[msg.sender].registered) revert NotRegistered(msg.sender);
        _;
    }

    // ---- registration ---------------------------------------------------------------------

    /// @notice Register msg.sender's node. Pass all-zero BLS arguments for a node without a BLS
    ///         key (only the quorum role needs one).
    /// @param popSignature BLS signature by the key over msg.sender (see BLS.verifyPossession);
    ///        binding the proof to the operator stops a key being copied from another operator.
    function register(
        bytes calldata peerId,
        uint8 roles,
        uint256[2] calldata blsG1,
        uint256[4] calldata blsG2,
        uint256[2] calldata popSignature
    ) external {
        Node storage n = _nodes[msg.sender];
        if (n.registered) revert AlreadyRegistered(msg.sender);
        _checkRoles(roles);
        if (peerId.length == 0 || peerId.length > MAX_PEER_ID_LENGTH) revert PeerIdInvalid(peerId.length);
        bytes32 peerHash = keccak256(peerId);
        address peerHolder = operatorOfPeerHash[peerHash];
        if (peerHolder != address(0)) revert PeerIdTaken(peerHolder);

        bool hasKey = blsG1[0] != 0 || blsG1[1] != 0;
        if (hasKey) {
            bytes32 keyHash = keccak256(abi.encode(blsG1));
            address keyHolder = operatorOfBlsKey[keyHash];
            if (keyHolder != address(0)) revert BlsKeyTaken(keyHolder);
            if (!BLS.verifyPossession(msg.sender, blsG1, blsG2, popSignature)) revert InvalidPossession();
            operatorOfBlsKey[keyHash] = msg.sender;
            n.blsG1 = blsG1;
        } else if (roles & ROLE_QUORUM != 0) {
            revert BlsKeyRequired();
        }

        operatorOfPeerHash[peerHash] = msg.sender;
        n.peerId = peerId;
        n.roles = roles;
        n.registered = true;
        _operators.push(msg.sender);
        _indexPlusOne[msg.sender] = _operators.length;
        emit NodeRegistered(msg.sender, peerId, roles, blsG1, blsG2);
    }

    function updateRoles(uint8 roles) external onlyRegistered {
        Node storage n = _nodes[msg.sender];
        if (n.exiting) revert NodeIsExiting(msg.sender);
        _checkRoles(roles);
        if (roles & ROLE_QUORUM != 0 && n.blsG1[0] == 0 && n.blsG1[1] == 0) revert BlsKeyRequired();
        emit RolesUpdated(msg.sender, n.roles, roles);
        n.roles = roles;
    }

    // ---- stake ----------------------------------------------------------------------------

    /// @notice Bond `amount` more tokens (approve the registry first, or use permit).
    function stake(uint256 amount) external nonReentrant onlyRegistered {
        if (amount == 0) revert ZeroAmount();
        Node storage n = _nodes[msg.sender];
        if (n.exiting) revert NodeIsExiting(msg.sender);
        n.bonded += amount;
        totalBonded += amount;
        emit Staked(msg.sender, amount, n.bonded);
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Start unbonding `amount`. Pending unbonds accumulate and share one unlock time,
    ///         which restarts at now + unbondingDelay: the newest stake leaving must wait out
    ///         the full delay, and one pending amount keeps the accounting a single slot.
    function requestUnbond(uint256 amount) external onlyRegistered {
        if (amount == 0) revert ZeroAmount();
        Node storage n = _nodes[msg.sender];
        if (amount > n.bonded) revert InsufficientBonded(amount, n.bonded);
        _unbond(n, amount);
        emit UnbondRequested(msg.sender, amount, n.unbonding, n.unlockAt);
    }

    /// @notice Withdraw all unbonding stake once its unlock time has passed.
    function withdraw() external nonReentrant onlyRegistered {
        Node storage n = _nodes[msg.sender];
        uint256 amount = n.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < n.unlockAt) revert UnbondingLocked(n.unlockAt);
        n.unbonding = 0;
        n.unlockAt = 0;
        totalUnbonding -= amount;
        emit Withdrawn(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice Leave the network: stop validating now and unbond everything. The node stays
    ///         registered (and slashable) until it withdraws and deregisters.
    function exit() external onlyRegistered {
        Node storage n = _nodes[msg.sender];
        if (n.exiting) revert NodeIsExiting(msg.sender);
        n.exiting = true;
        if (n.bonded > 0) _unbond(n, n.bonded);
        emit ExitStarted(msg.sender, n.unbonding, n.unlockAt);
    }

    /// @notice Remove the node once nothing is left to slash, freeing its peer id and BLS key.
    function deregister() external onlyRegistered {
        Node storage n = _nodes[msg.sender];
        uint256 slashable = n.bonded + n.unbonding;
        if (slashable != 0) revert StakeRemaining(slashable);
        delete operatorOfPeerHash[keccak256(n.peerId)];
        if (n.blsG1[0] != 0 || n.blsG1[1] != 0) delete operatorOfBlsKey[keccak256(abi.encode(n.blsG1))];
        // Swap-and-pop keeps enumeration dense; order is not meaningful.
        uint256 index = _indexPlusOne[msg.sender] - 1;
        address last = _operators[_operators.length - 1];
        _operators[index] = last;
        _indexPlusOne[last] = index + 1;
        _operators.pop();
        delete _indexPlusOne[msg.sender];
        delete _nodes[msg.sender];
        emit NodeDeregistered(msg.sender);
    }

    // ---- slashing -------------------------------------------------------------------------

    /// @notice Governance grants or revokes the right to slash (settlement, dispute contracts).
    function setSlasher(address slasher, bool allowed) external onlyOwner {
        if (slasher == address(0)) revert ZeroAddress();
        isSlasher[slasher] = allowed;
        emit SlasherSet(slasher, allowed);
    }

    /// @inheritdoc INodeRegistry
    /// @dev A zero `beneficiary` (no challenger, e.g. a timeout) sends the reward to the treasury.
    ///      Never reverts for lack of stake: a dispute that already won must be able to finish.
    function slash(address operator, uint256 amount, address beneficiary, bytes32 reason)
        external
        nonReentrant
        returns (uint256 taken)
    {
        if (!isSlasher[msg.sender]) revert NotSlasher(msg.sender);
        Node storage n = _nodes[operator];
        uint256 fromBonded = amount < n.bonded ? amount : n.bonded;
        uint256 rest = amount - fromBonded;
        uint256 fromUnbonding = rest < n.unbonding ? rest : n.unbonding;
        taken = fromBonded + fromUnbonding;
        if (taken == 0) return 0;

        n.bonded -= fromBonded;
        n.unbonding -= fromUnbonding;
        totalBonded -= fromBonded;
        totalUnbonding -= fromUnbonding;

        uint256 reward = taken * params.challengerRewardBps() / BPS;
        uint256 burned = (taken - reward) * params.slashBurnBps() / BPS;
        uint256 toTreasury = taken - reward - burned;
        address treasury = params.treasury();
        if (beneficiary == address(0)) {
            toTreasury += reward;
            reward = 0;
        }
        emit Slashed(operator, msg.sender, beneficiary, reason, taken, reward, burned, toTreasury);

        if (burned > 0) ERC20Burnable(address(token)).burn(burned);
        if (reward > 0) token.safeTransfer(beneficiary, reward);
        if (toTreasury > 0) token.safeTransfer(treasury, toTreasury);
    }

    // ---- views ----------------------------------------------------------------------------

    /// @inheritdoc INodeRegistry
    function rolesOf(address operator) external view returns (uint8) {
        return _nodes[operator].roles;
    }

    /// @inheritdoc INodeRegistry
    function currentEpoch() public view returns (uint64) {
        return uint64((block.timestamp - genesis) / params.epochLength());
    }

    /// @inheritdoc INodeRegistry
    function epochStart(uint64 epoch) external view returns (uint64) {
        return genesis + epoch * params.epochLength();
    }

    /// @inheritdoc INodeRegistry
    function isActiveValidator(address operator) external view returns (bool) {
        Node storage n = _nodes[operator];
        return n.registered && !n.exiting && n.roles & ROLE_QUORUM != 0 && (n.blsG1[0] != 0 || n.blsG1[1] != 0)
            && n.bonded >= params.minStake();
    }

    /// @inheritdoc INodeRegistry
    function operatorCount() external view returns (uint256) {
        return _operators.length;
    }

    /// @inheritdoc INodeRegistry
    function operatorAt(uint256 index) external view returns (address) {
        return _operators[index];
    }

    /// @inheritdoc INodeRegistry
    function bondedStakeOf(address operator) external view returns (uint256) {
        return _nodes[operator].bonded;
    }

    /// @inheritdoc INodeRegistry
    function slashableStakeOf(address operator) external view returns (uint256) {
        Node storage n = _nodes[operator];
        return n.bonded + n.unbonding;
    }

    /// @inheritdoc INodeRegistry
    function blsG1Of(address operator) external view returns (uint256[2] memory) {
        return _nodes[operator].blsG1;
    }

    /// @notice Everything about one node, for clients and the TypeScript side.
    function nodeOf(address operator) external view returns (Node memory) {
        return _nodes[operator];
    }

    function isRegistered(address operator) external view returns (bool) {
        return _nodes[operator].registered;
    }

    // ---- internals ------------------------------------------------------------------------

    function _unbond(Node storage n, uint256 amount) internal {
        n.bonded -= amount;
        n.unbonding += amount;
        totalBonded -= amount;
        totalUnbonding += amount;
        n.unlockAt = uint64(block.timestamp) + params.unbondingDelay();
    }

    function _checkRoles(uint8 roles) internal pure {
        if (roles == 0 || roles > ALL_ROLES) revert RolesInvalid(roles);
    }
}
