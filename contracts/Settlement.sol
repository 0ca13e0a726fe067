// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Verimesh Settlement
/// @author Verimesh
/// @notice Records inference receipts on chain once enough registered validators
///         have signed them. A receipt is identified by its 32-byte hash; the
///         contract never sees the receipt body.
/// @dev Signatures are EIP-191 `personal_sign` signatures over the raw 32-byte
///      receipt hash, i.e. what ethers' `wallet.signMessage(getBytes(hash))`
///      produces. The contract makes no external calls (only the ecrecover
///      precompile), so there is no reentrancy surface.
contract Settlement {
    /// @notice What is stored per recorded receipt.
    /// @dev Packed into one storage slot (8 + 20 bytes) to keep recording cheap.
    struct Receipt {
        uint64 blockNumber;
        address submitter;
    }

    /// @dev Upper bound for `s` in a canonical signature (secp256k1n / 2, EIP-2).
    ///      Signatures with a higher `s` are the malleated twin of a valid one.
    uint256 private constant HALF_CURVE_ORDER =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice Account allowed to manage the validator set and the threshold.
    address public owner;

    /// @notice Minimum number of distinct validator signatures per receipt.
    uint256 public threshold;

    /// @notice Number of currently registered validators.
    uint256 public validatorCount;

    /// @notice Whether an address is a registered validator.
    mapping(address => bool) public isValidator;

    mapping(bytes32 => Receipt) private _receipts;

    /// @notice Caller is not the owner.
    error NotOwner(address caller);
    /// @notice The zero address cannot be a validator or the owner.
    error ZeroAddress();
    /// @notice The validator is already registered.
    error ValidatorAlreadyRegistered(address validator);
    /// @notice A signature recovered to an address that is not a registered validator
    ///         (also raised when removing an address that is not registered).
    error UnknownValidator(address signer);
    /// @notice The same validator signed more than once.
    error DuplicateSigner(address signer);
    /// @notice Fewer signatures than the threshold were supplied.
    error NotEnoughSignatures(uint256 got, uint256 need);
    /// @notice The receipt hash has been recorded before.
    error ReceiptAlreadyRecorded(bytes32 receiptHash);
    /// @notice A signature is malformed, non-canonical (high s, v not 27/28) or unrecoverable.
    error InvalidSignature();
    /// @notice The threshold must be at least 1 and at most the number of validators.
    error InvalidThreshold(uint256 threshold, uint256 validatorCount);

    /// @notice Emitted when ownership moves (including at construction, from address(0)).
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    /// @notice Emitted when a validator is registered.
    event ValidatorAdded(address indexed validator);
    /// @notice Emitted when a validator is deregistered.
    event ValidatorRemoved(address indexed validator);
    /// @notice Emitted when the signature threshold changes (including at construction).
    event ThresholdChanged(uint256 previousThreshold, uint256 newThreshold);
    /// @notice Emitted when a receipt is recorded.
    /// @param receiptHash The recorded receipt hash.
    /// @param submitter The account that sent the transaction.
    /// @param signers The validators whose signatures were verified, in the order supplied.
    event ReceiptRecorded(bytes32 indexed receiptHash, address indexed submitter, address[] signers);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @param validators_ Initial validator set (distinct, non-zero).
    /// @param threshold_ Initial threshold, 1 <= threshold_ <= validators_.length.
    /// @param owner_ Initial owner (non-zero).
    constructor(address[] memory validators_, uint256 threshold_, address owner_) {
        if (owner_ == address(0)) revert ZeroAddress();
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
        for (uint256 i = 0; i < validators_.length; i++) {
            _addValidator(validators_[i]);
        }
        _setThreshold(threshold_);
    }

    /// @notice Record a receipt hash signed by at least `threshold` distinct validators.
    /// @param receiptHash Hash of the off-chain receipt.
    /// @param signatures 65-byte (r, s, v) EIP-191 signatures over `receiptHash`.
    function recordReceipt(bytes32 receiptHash, bytes[] calldata signatures) external {
        if (_receipts[receiptHash].blockNumber != 0) revert ReceiptAlreadyRecorded(receiptHash);
        // Checked before any ecrecover so an under-signed submission fails cheaply.
        if (signatures.length < threshold) revert NotEnoughSignatures(signatures.length, threshold);

        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", receiptHash));
        address[] memory signers = new address[](signatures.length);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(digest, signatures[i]);
            if (!isValidator[signer]) revert UnknownValidator(signer);
            // Quadratic, but signature sets are small (a handful of validators),
            // and it needs no storage writes, unlike a "seen" mapping.
            for (uint256 j = 0; j < i; j++) {
                if (signers[j] == signer) revert DuplicateSigner(signer);
            }
            signers[i] = signer;
        }

        _receipts[receiptHash] = Receipt({blockNumber: uint64(block.number), submitter: msg.sender});
        emit ReceiptRecorded(receiptHash, msg.sender, signers);
    }

    /// @notice Look up a recorded receipt.
    /// @return blockNumber Block in which it was recorded (0 if never recorded).
    /// @return submitter Account that recorded it (address(0) if never recorded).
    function receiptOf(bytes32 receiptHash) external view returns (uint256 blockNumber, address submitter) {
        Receipt memory r = _receipts[receiptHash];
        return (r.blockNumber, r.submitter);
    }

    /// @notice Register a validator.
    function addValidator(address validator) external onlyOwner {
        _addValidator(validator);
    }

    /// @notice Deregister a validator; the threshold must stay satisfiable.
    function removeValidator(address validator) external onlyOwner {
        if (!isValidator[validator]) revert UnknownValidator(validator);
        if (validatorCount - 1 < threshold) revert InvalidThreshold(threshold, validatorCount - 1);
        isValidator[validator] = false;
        validatorCount -= 1;
        emit ValidatorRemoved(validator);
    }

    /// @notice Change the number of signatures required per receipt.
    function setThreshold(uint256 newThreshold) external onlyOwner {
        _setThreshold(newThreshold);
    }

    /// @notice Hand the owner role to another account.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function _addValidator(address validator) private {
        if (validator == address(0)) revert ZeroAddress();
        if (isValidator[validator]) revert ValidatorAlreadyRegistered(validator);
        isValidator[validator] = true;
        validatorCount += 1;
        emit ValidatorAdded(validator);
    }

    function _setThreshold(uint256 newThreshold) private {
        if (newThreshold == 0 || newThreshold > validatorCount) {
            revert InvalidThreshold(newThreshold, validatorCount);
        }
        emit ThresholdChanged(threshold, newThreshold);
        threshold = newThreshold;
    }

    /// @dev ecrecover that accepts only canonical 65-byte signatures: v in {27, 28}
    ///      and s in the lower half of the curve order (EIP-2), so each (message,
    ///      key) pair has exactly one accepted signature. ecrecover itself returns
    ///      address(0) for r/s out of range or an off-curve point.
    function _recover(bytes32 digest, bytes calldata signature) private pure returns (address) {
        if (signature.length != 65) revert InvalidSignature();
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (v != 27 && v != 28) revert InvalidSignature();
        if (uint256(s) > HALF_CURVE_ORDER) revert InvalidSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        return signer;
    }
}
