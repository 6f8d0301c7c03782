// The recovery words card (shown by itself once sats arrive, until "I wrote them down") and the
// restore form (shown while the wallet is empty).
import { el, messageOf, setStatus } from './dom.js';
import { describeMintError } from './mint-errors.js';
import { restoreFromWords } from './recovery.js';
import { currentWords, validWords } from './seed.js';
import { settings } from './store.js';
import type { BrowserWallet } from './wallet.js';

const ui = {
  card: el('backup-card'),
  words: el('backup-words'),
  done: el<HTMLButtonElement>('backup-done'),
  showAgain: el<HTMLButtonElement>('show-words'),
  restoreCard: el('restore-card'),
  restoreForm: el<HTMLFormElement>('restore-form'),
  restoreInput: el<HTMLTextAreaElement>('restore-input'),
  restoreButton: el<HTMLButtonElement>('restore-button'),
  restoreStatus: el('restore-status'),
};

export interface BackupView {
  /** Shows or hides the words and the restore form for a wallet holding `sats` (in it or in flight). */
  render(sats: number): void;
}

export function backupView(wallet: BrowserWallet, changed: () => void): BackupView {
  let restoring = false;
  const view: BackupView = {
    render(sats) {
      const show = sats > 0 && settings.get('backedUp') !== currentWords();
      if (show && ui.words.textContent !== currentWords()) ui.words.textContent = currentWords();
      ui.card.hidden = !show;
      ui.showAgain.hidden = show || sats === 0;
      ui.restoreCard.hidden = !restoring && sats > 0;
    },
  };
  ui.done.addEventListener('click', () => {
    settings.set('backedUp', currentWords());
    changed();
  });
  ui.showAgain.addEventListener('click', () => {
    settings.set('backedUp', '');
    changed();
    ui.card.scrollIntoView({ block: 'nearest' });
  });
  ui.restoreForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const words = ui.restoreInput.value;
    if (!validWords(words)) return setStatus(ui.restoreStatus, 'These are not 12 or 24 valid recovery words: check each word and its order.', true);
    restoring = true;
    ui.restoreButton.disabled = true;
    setStatus(ui.restoreStatus, 'Asking the mint for the wallet of these words…');
    restoreFromWords(wallet, words)
      .then((sats) => {
        ui.restoreInput.value = '';
        settings.set('backedUp', currentWords()); // they were just typed in: no need to show them
        setStatus(ui.restoreStatus, sats > 0 ? `Restored: ${sats} sats are back.` : 'These words hold no sats at this mint (none unspent).');
      })
      .catch((err: unknown) => setStatus(ui.restoreStatus, /empty wallet/.test(messageOf(err)) ? 'Restore works on an empty wallet: withdraw first.' : describeMintError(err, wallet.mint, 'restore the wallet'), true))
      .finally(() => {
        restoring = false;
        ui.restoreButton.disabled = false;
        changed();
      });
  });
  return view;
}
