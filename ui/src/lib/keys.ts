// Keyboard helpers shared by the screens.

// True while a Chinese (or other) input method is composing: its Enter confirms the characters
// and must not submit the field.
export function isComposing(e: KeyboardEvent): boolean {
  return e.isComposing || e.keyCode === 229;
}

// True for F1 to F12, which the till uses as its function keys; the web view's own meanings
// (reload on F5, caret browsing on F7) are switched off for them.
export function isFunctionKey(e: KeyboardEvent): boolean {
  return /^F([1-9]|1[0-2])$/.test(e.key);
}

// Svelte action: focuses the element once it is on screen, and selects its text so that typing
// replaces a prefilled value.
export function autofocus(node: HTMLElement) {
  queueMicrotask(() => {
    node.focus();
    if (node instanceof HTMLInputElement) node.select();
  });
}

// Keeps a mouse click from taking the keyboard focus away from the field that has it (the
// checkout's scan field, a dialog's input), so touch and mouse users do not break the scanner.
export function keepFocus(e: MouseEvent) {
  e.preventDefault();
}
