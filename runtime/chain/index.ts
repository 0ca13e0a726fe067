// Public surface of the chain module: an embedded dev chain (see embedded-chain.ts for
// why it is built on @ethereumjs/vm), deployment of the protocol, the transaction
// sender, batch and Merkle builders, joining as an operator, and the typed bindings
// generated from the contracts (runtime/chain/types, written by `npm run build`).
export { startEmbeddedChain, type EmbeddedChain, type EmbeddedChainOptions } from './embedded-chain.js'
export { DEV_BALANCE_WEI, DEV_DERIVATION_PATH, DEV_MNEMONIC, devAccounts, type DevAccount } from './dev-accounts.js'
export { connectProvider, type ConnectOptions } from './provider.js'
export { SignerQueue } from './nonce-manager.js'
export { TxSender, type TxEvent, type TxRequest, type TxResult, type TxSenderOptions } from './tx-sender.js'
export { RevertError, chainFailure, decodeRevert, isRevert } from './revert.js'
export { DEFAULT_DEPLOY_OPTIONS, PROTOCOL_STEPS, deployOne, deployProtocol, type DeployProtocolOptions, type DeployStep, type ProtocolAddresses } from './deploy.js'
export { disputesStep } from './disputes.js'
export { ROLE_BITS, registerOperator, roleMask, type RegisterOperatorOptions } from './operator.js'
export { batchDigest, buildBatch, splitFees, type Batch, type BatchHeader, type BatchReceipt, type Debit, type FeeSplit, type Payout, type Pools } from './batch.js'
export { PayoutKind, payoutLeafHash, receiptLeafHash, verifyPayoutProof, verifyReceiptProof, type ReceiptFields } from './merkle.js'
export { compileVerifier, Groth16VerifierClient, verifierCalldata } from './groth16-verifier.js'
// The per-receipt ECDSA Settlement of the first milestone: kept as the baseline bench/chain compares batches with.
export {
  DEFAULT_ARTIFACTS_DIR, DEV_SETTLEMENT_ADDRESS, SettlementClient, decodeSettlementError, deploySettlement, loadArtifact,
  predictDeployAddress, signReceiptHash,
  type ContractArtifact, type DecodedRevert, type DeploySettlementOptions, type ReceiptRecord, type TxOutcome
} from './contracts.js'
