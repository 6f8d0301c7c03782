// The wallet's recovery words (BIP39, 12 English words): every output the wallet asks the mint to
// sign is derived from them (NUT-13), so the words alone bring the sats back on any browser.
// One set per browser, in localStorage next to the wallet; replaced only by a restore.
import { generateMnemonic, mnemonicToSeed, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english.js';

const KEY = 'owlrun:words:v1';

/** Lower case, single spaces: how words are stored and compared. */
export function normalizeWords(text: string): string {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean).join(' ');
}

/** 12 or 24 words of the English list with a valid checksum. */
export function validWords(text: string): boolean {
  const words = normalizeWords(text);
  const n = words.split(' ').length;
  return (n === 12 || n === 24) && validateMnemonic(words, wordlist);
}

/** Whether this browser has recovery words yet (a wallet from before them holds proofs they cannot restore). */
export function hasWords(): boolean {
  return validWords(localStorage.getItem(KEY) ?? '');
}

/** This browser's words, created (128 bits of entropy) on first use. */
export function currentWords(): string {
  const stored = localStorage.getItem(KEY);
  if (stored && validWords(stored)) return stored;
  const words = generateMnemonic(wordlist, 128);
  localStorage.setItem(KEY, words);
  return words;
}

/** A restore: these words become the wallet's. */
export function replaceWords(text: string): string {
  const words = normalizeWords(text);
  if (!validWords(words)) throw new Error('not 12 or 24 valid recovery words');
  localStorage.setItem(KEY, words);
  return words;
}

/** The 64-byte BIP39 seed (no passphrase) the wallet derives its secrets from. */
export function seedOf(words: string): Promise<Uint8Array> {
  return mnemonicToSeed(words);
}
