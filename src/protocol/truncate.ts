/** Keeps a text within a cap, saying how much was cut so a reader knows it is partial. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `\n[… truncated ${text.length - max} characters]`;
  if (max <= note.length) return text.slice(0, max);
  return `${text.slice(0, max - note.length)}${note}`;
}
