// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title Model registry: which model roots exist, who owns them, what they cost.
/// @notice A model is a name owned by an account, with numbered versions. Each version pins
///         the engine's model root (Merkle root over shards), every shard root, the root over
///         tile weight commitments that dispute one-step proofs are checked against, a license
///         fee per inference and a URI for the package. Executors check a shard they load
///         against verifyShard, clients check the root they asked for is registered and not
///         deprecated, and disputes read tileRootOf. A model root belongs to exactly one
///         version of one model forever (even deprecated), so a receipt naming a root always
///         means one set of weights and one license owner.
/// @dev Versions are 1-based; version 0 means "none". Deprecation hides a version from
///      isRegisteredRoot and latest but keeps its roots readable: receipts settled before the
///      deprecation must still be disputable against them.
contract ModelRegistry is IModelRegistry {
    /// @notice Bounds what one registration can write (gas per shard root ≈ 22k).
    uint256 public constant MAX_SHARDS = 1024;
    uint256 public constant MAX_NAME_LENGTH = 64;

    struct Version {
        bytes32 modelRoot;
        bytes32 tileRoot;
        uint256 licenseFee;
        uint64 publishedAt;
        bool deprecated;
        string uri;
    }

    struct Model {
        address owner;
        uint32 versionCount;
        string name;
    }

    struct RootRef {
        bytes32 modelId;
        uint32 version; // 0 = not registered
    }

    mapping(bytes32 => Model) internal _models;
    mapping(bytes32 => mapping(uint32 => Version)) internal _versions;
    mapping(bytes32 => bytes32[]) internal _shardRoots; // by model root
    mapping(bytes32 => RootRef) public rootRef;
    /// @notice Every model id, in registration order, for enumeration.
    bytes32[] public modelIds;

    error NameInvalid(uint256 length);
    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error UnknownVersion(bytes32 modelId, uint32 version);
    error NotModelOwner(bytes32 modelId, address caller);
    error ZeroRoot();
    error ShardCountInvalid(uint256 count);
    /// @notice A shard root is zero: nothing could ever verify against it.
    error ShardRootZero(uint256 shard);
    /// @notice The model root already names a version (of this or another model).
    error RootTaken(bytes32 modelRoot, bytes32 modelId, uint32 version);
    error AlreadyDeprecated(bytes32 modelId, uint32 version);
    error NoActiveVersion(bytes32 modelId);
    error ZeroAddress();

    event ModelRegistered(bytes32 indexed modelId, address indexed owner, string name);
    event VersionPublished(
        bytes32 indexed modelId,
        uint32 indexed version,
        bytes32 indexed modelRoot,
        bytes32 tileRoot,
        uint256 shardCount,
        uint256 licenseFee,
        string uri
    );
    event VersionDeprecated(bytes32 indexed modelId, uint32 indexed version, bytes32 indexed modelRoot);
    event ModelOwnershipTransferred(bytes32 indexed modelId, address indexed previousOwner, address indexed newOwner);

    modifier onlyModelOwner(bytes32 modelId) {
        address owner = _models[modelId].owner;
        if (owner == address(0)) revert UnknownModel(modelId);
        if (owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
        _;
    }

    /// @notice The id a name registers under. Names are global and first come, first served,
    ///         like package names: the id is derivable off chain without a lookup.
    function modelIdOf(string calldata name) public pure returns (bytes32) {
        return keccak256(bytes(name));
    }

    /// @notice Register model `name` owned by msg.sender, with its first version.
    function registerModel(
        string calldata name,
        bytes32 modelRoot,
        bytes32[] calldata shardRoots,
        bytes32 tileRoot,
        uint256 licenseFee,
        string calldata uri
    ) external returns (bytes32 modelId) {
        uint256 len = bytes(name).length;
        if (len == 0 || len > MAX_NAME_LENGTH) revert NameInvalid(len);
        modelId = modelIdOf(name);
        if (_models[modelId].owner != address(0)) revert ModelExists(modelId);
        _models[modelId] = Model({owner: msg.sender, versionCount: 0, name: name});
        modelIds.push(modelId);
        emit ModelRegistered(modelId, msg.sender, name);
        _publish(modelId, modelRoot, shardRoots, tileRoot, licenseFee, uri);
    }

    /// @notice Publish a new version of a model you own; it becomes `latest`.
    function publishVersion(
        bytes32 modelId,
        bytes32 modelRoot,
        bytes32[] calldata shardRoots,
        bytes32 tileRoot,
        uint256 licenseFee,
        string calldata uri
    ) external onlyModelOwner(modelId) returns (uint32 version) {
        return _publish(modelId, modelRoot, shardRoots, tileRoot, licenseFee, uri);
    }

    /// @notice Withdraw a version from use (a bad export, a leaked license). Irreversible, so a
    ///         client that once saw a version deprecated can rely on it staying so.
    function deprecateVersion(bytes32 modelId, uint32 version) external onlyModelOwner(modelId) {
        if (version == 0 || version > _models[modelId].versionCount) revert UnknownVersion(modelId, version);
        Version storage v = _versions[modelId][version];
        if (v.deprecated) revert AlreadyDeprecated(modelId, version);
        v.deprecated = true;
        emit VersionDeprecated(modelId, version, v.modelRoot);
    }

    /// @notice Hand the model (and its future license fees) to `newOwner`.
    function transferModelOwnership(bytes32 modelId, address newOwner) external onlyModelOwner(modelId) {
        if (newOwner == address(0)) revert ZeroAddress();
        emit ModelOwnershipTransferred(modelId, msg.sender, newOwner);
        _models[modelId].owner = newOwner;
    }

    // ---- lookups --------------------------------------------------------------------------

    function modelOf(bytes32 modelId) external view returns (Model memory) {
        return _models[modelId];
    }

    function modelCount() external view returns (uint256) {
        return modelIds.length;
    }

    /// @notice The newest version that is not deprecated.
    function latest(bytes32 modelId) external view returns (uint32 version, Version memory info) {
        uint32 count = _models[modelId].versionCount;
        if (count == 0) revert UnknownModel(modelId);
        for (version = count; version > 0; version--) {
            if (!_versions[modelId][version].deprecated) return (version, _versions[modelId][version]);
        }
        revert NoActiveVersion(modelId);
    }

    function versionOf(bytes32 modelId, uint32 version) external view returns (Version memory) {
        if (version == 0 || version > _models[modelId].versionCount) revert UnknownVersion(modelId, version);
        return _versions[modelId][version];
    }

    function shardCountOf(bytes32 modelRoot) external view returns (uint256) {
        return _shardRoots[modelRoot].length;
    }

    /// @notice Root of shard `shard` of `modelRoot`; zero when out of range or unregistered.
    function shardRootOf(bytes32 modelRoot, uint256 shard) public view returns (bytes32) {
        bytes32[] storage roots = _shardRoots[modelRoot];
        return shard < roots.length ? roots[shard] : bytes32(0);
    }

    function shardRootsOf(bytes32 modelRoot) external view returns (bytes32[] memory) {
        return _shardRoots[modelRoot];
    }

    /// @notice Whether `shardRoot` is the registered root of shard `shard` of a live `modelRoot`:
    ///         what an executor checks before serving a shard, and a client before trusting one.
    function verifyShard(bytes32 modelRoot, uint256 shard, bytes32 shardRoot) external view returns (bool) {
        return shardRoot != bytes32(0) && isRegisteredRoot(modelRoot) && shardRootOf(modelRoot, shard) == shardRoot;
    }

    /// @inheritdoc IModelRegistry
    function isRegisteredRoot(bytes32 modelRoot) public view returns (bool) {
        RootRef memory ref = rootRef[modelRoot];
        return ref.version != 0 && !_versions[ref.modelId][ref.version].deprecated;
    }

    /// @inheritdoc IModelRegistry
    /// @dev Also for deprecated versions: disputes over receipts settled earlier still need it.
    function tileRootOf(bytes32 modelRoot) external view returns (bytes32) {
        RootRef memory ref = rootRef[modelRoot];
        return ref.version == 0 ? bytes32(0) : _versions[ref.modelId][ref.version].tileRoot;
    }

    /// @inheritdoc IModelRegistry
    /// @dev The owner is the model's current owner: license fees follow ownership transfers.
    function licenseOf(bytes32 modelRoot) external view returns (address owner, uint256 feePerInference) {
        RootRef memory ref = rootRef[modelRoot];
        if (ref.version == 0) return (address(0), 0);
        return (_models[ref.modelId].owner, _versions[ref.modelId][ref.version].licenseFee);
    }

    // ---- internals ------------------------------------------------------------------------

    function _publish(
        bytes32 modelId,
        bytes32 modelRoot,
        bytes32[] calldata shardRoots,
        bytes32 tileRoot,
        uint256 licenseFee,
        string calldata uri
    ) internal returns (uint32 version) {
        // A zero tile root is allowed: a model with no tile decomposition registered yet,
        // whose receipts the dispute game refuses (nothing a one-step proof could check).
        if (modelRoot == bytes32(0)) revert ZeroRoot();
        RootRef memory taken = rootRef[modelRoot];
        if (taken.version != 0) revert RootTaken(modelRoot, taken.modelId, taken.version);
        uint256 count = shardRoots.length;
        if (count == 0 || count > MAX_SHARDS) revert ShardCountInvalid(count);
        bytes32[] storage stored = _shardRoots[modelRoot];
        for (uint256 i = 0; i < count; i++) {
            if (shardRoots[i] == bytes32(0)) revert ShardRootZero(i);
            stored.push(shardRoots[i]);
        }
        Model storage m = _models[modelId];
        version = ++m.versionCount;
        _versions[modelId][version] = Version({
            modelRoot: modelRoot,
            tileRoot: tileRoot,
            licenseFee: licenseFee,
            publishedAt: uint64(block.timestamp),
            deprecated: false,
            uri: uri
        });
        rootRef[modelRoot] = RootRef({modelId: modelId, version: version});
        emit VersionPublished(modelId, version, modelRoot, tileRoot, count, licenseFee, uri);
    }
}
