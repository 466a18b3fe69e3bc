/** Newer / Older buttons over a cursor-paged list: `cursors` is the stack of pages read past so far. */
export function Pager({
  cursors,
  setCursors,
  next,
}: {
  cursors: string[];
  setCursors: (cursors: string[]) => void;
  next: string | null | undefined;
}) {
  return (
    <div class="pager">
      {cursors.length > 0 && (
        <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
      )}
      {next && (
        <button type="button" onClick={() => setCursors([...cursors, next])}>
          Older
        </button>
      )}
    </div>
  );
}
