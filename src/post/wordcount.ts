// --post builtin:wordcount: word and character counts of each
// response, computed off the event loop like any user post function.

export default function wordcount(record: { response?: unknown }): { words: number; characters: number } {
  const text = typeof record.response === 'string' ? record.response : '';
  const words = text.trim() === '' ? 0 : text.trim().split(/\s+/u).length;
  return { words, characters: [...text].length };
}
