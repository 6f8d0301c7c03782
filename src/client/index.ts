// owlrun-gateway/client — an ecash wallet for agents, and a fetch that pays Owlrun gateways with it.
//   import { openWallet } from 'owlrun-gateway/client';
//   const wallet = await openWallet({ file: 'wallet.json', mint: 'https://mint.example' });
//   const openai = new OpenAI({ baseURL: 'https://gateway.example/v1', apiKey: 'unused', fetch: wallet.fetch });
// Imports no gateway code (only the pure pricing formula); runs in Node and, without a file, in browsers.
export { openWallet, OwlrunWallet, WalletError, DEFAULT_MINT, type OpenWalletOptions } from './wallet.js';
export type { Settlement } from './settle.js';
export type { WalletState, WalletStore, StoredProof, Payment } from './state.js';
export { MemoryStore } from './state.js';
export { receiptOf } from './receipt.js';
export { gatewayBase } from './pay.js';
