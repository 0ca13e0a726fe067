// Prefunded development accounts. They come from the well-known public test
// mnemonic that Hardhat, Foundry (anvil) and Ganache also use, so account 0 is
// 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 everywhere and a contract it
// deploys at nonce 0 always lands at 0x5FbDB2315678afecb367f032d93F642f64180aa3.
// These keys are public: never send real value to them.
import { HDNodeWallet } from 'ethers'

export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'
/** BIP-44 Ethereum path; account i is DEV_DERIVATION_PATH/i. */
export const DEV_DERIVATION_PATH = "m/44'/60'/0'/0"
/** Each dev account starts with 10,000 ETH. */
export const DEV_BALANCE_WEI = 10_000n * 10n ** 18n

export interface DevAccount {
  address: string
  privateKey: string
}

// Deriving the seed runs PBKDF2 (2048 rounds, ~0.1 s): do it once per process.
const roots = new Map<string, HDNodeWallet>()

export function devAccounts (count: number, mnemonic: string = DEV_MNEMONIC): DevAccount[] {
  let root = roots.get(mnemonic)
  if (root === undefined) {
    root = HDNodeWallet.fromPhrase(mnemonic, undefined, DEV_DERIVATION_PATH)
    roots.set(mnemonic, root)
  }
  const out: DevAccount[] = []
  for (let i = 0; i < count; i++) {
    const w = root.deriveChild(i)
    out.push({ address: w.address, privateKey: w.privateKey })
  }
  return out
}
