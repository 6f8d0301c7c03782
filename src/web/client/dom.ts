// The few DOM helpers every part of the page uses.

export const el = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function setStatus(node: HTMLElement, text: string, error = false): void {
  node.textContent = text;
  node.classList.toggle('error', error);
}

const errorBanner = () => el('error');

/** The page-wide error banner (null hides it). */
export function showError(msg: string | null): void {
  errorBanner().hidden = !msg;
  errorBanner().textContent = msg ?? '';
}

/** Buttons with data-copy="ID" copy the value of the textarea #ID. */
export function installCopyButtons(): void {
  document.addEventListener('click', (e) => {
    const target = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-copy]');
    if (!target) return;
    const area = el<HTMLTextAreaElement>(target.dataset.copy ?? '');
    const done = () => {
      const label = target.textContent;
      target.textContent = 'Copied';
      setTimeout(() => (target.textContent = label), 1500);
    };
    navigator.clipboard?.writeText(area.value).then(done, () => {
      area.select();
      document.execCommand('copy');
      done();
    }) ?? (area.select(), document.execCommand('copy'), done());
  });
}
