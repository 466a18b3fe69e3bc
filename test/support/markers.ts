/**
 * What a history's markers say, for tests that count them: the patch a `core_patch` marker records and the
 * activity a `core_local_activity` marker ran. Works on events from `fetchHistory` (payload data as bytes) and
 * on the CLI's JSON export (base64 text).
 */
interface MarkerEvent {
  readonly markerRecordedEventAttributes?: {
    readonly markerName?: string | null;
    readonly details?: Record<
      string,
      { readonly payloads?: ReadonlyArray<{ readonly data?: unknown }> | null }
    > | null;
    readonly failure?: unknown;
  } | null;
}

function detail(e: MarkerEvent, name: string, key: string): Record<string, unknown> | null {
  const marker = e.markerRecordedEventAttributes;
  const data = marker?.markerName === name ? marker.details?.[key]?.payloads?.[0]?.data : undefined;
  if (data === undefined || data === null) return null;
  const text =
    typeof data === 'string'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data as Uint8Array).toString('utf8');
  return JSON.parse(text) as Record<string, unknown>;
}

/** The patch IDs of a history's patch markers, in order. */
export function patchMarkers(events: readonly MarkerEvent[]): string[] {
  return events.flatMap((e) => {
    const id = detail(e, 'core_patch', 'patch-data')?.id;
    return typeof id === 'string' ? [id] : [];
  });
}

/** The local activities a history's markers record, in order, and whether each failed. */
export function localActivities(events: readonly MarkerEvent[]): { type: string; failed: boolean }[] {
  return events.flatMap((e) => {
    const type = detail(e, 'core_local_activity', 'data')?.activity_type;
    if (typeof type !== 'string') return [];
    return [{ type, failed: Boolean(e.markerRecordedEventAttributes?.failure) }];
  });
}
