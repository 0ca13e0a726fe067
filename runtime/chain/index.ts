// Public surface of the chain module: an embedded dev chain (see
// embedded-chain.ts for why it is built on @ethereumjs/vm) and the
// Settlement contract client.
export { startEmbeddedChain, type EmbeddedChain, type EmbeddedChainOptions } from './embedded-chain.js'
export { DEV_BALANCE_WEI, DEV_DERIVATION_PATH, DEV_MNEMONIC, devAccounts, type DevAccount } from './dev-accounts.js'
export { connectProvider, type ConnectOptions } from './provider.js'
export { SignerQueue } from './nonce-manager.js'
export {
  DEFAULT_ARTIFACTS_DIR, DEV_SETTLEMENT_ADDRESS, SettlementClient, decodeSettlementError, deploySettlement, loadArtifact,
  predictDeployAddress, signReceiptHash,
  type ContractArtifact, type DecodedRevert, type DeploySettlementOptions, type ReceiptRecord, type TxOutcome
} from './contracts.js'
