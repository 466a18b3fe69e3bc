import { localActivityHeartbeats } from '../support/temporal';

/** A history from its event kinds, ids from 1; a completed task names the task it completes. */
function history(...kinds: string[]) {
  let scheduled = 0;
  return kinds.map((kind, i) => {
    const eventId = i + 1;
    if (kind === 'scheduled') scheduled = eventId;
    const attributes: Record<string, object> = {
      signal: { workflowExecutionSignaledEventAttributes: {} },
      scheduled: { workflowTaskScheduledEventAttributes: {} },
      started: { workflowTaskStartedEventAttributes: {} },
      completed: { workflowTaskCompletedEventAttributes: { scheduledEventId: scheduled } },
      marker: { markerRecordedEventAttributes: {} },
      timer: { timerStartedEventAttributes: {} },
      cancelled: { timerCanceledEventAttributes: {} },
      fired: { timerFiredEventAttributes: {} },
    };
    return { eventId, ...attributes[kind] };
  });
}

const idle = ['signal', 'scheduled', 'started', 'completed', 'cancelled', 'marker', 'timer'];

describe("the workflow tasks the SDK adds for a slow local activity (the test helper's count)", () => {
  test('an idle iteration has none: each task follows a signal or a timer', () => {
    expect(
      localActivityHeartbeats(history(...idle, ...idle, 'fired', 'scheduled', 'started', 'completed')),
    ).toEqual(new Set());
  });

  test('a local activity that outlived two task timeouts: the two tasks that followed commands only', () => {
    // As recorded with a registry answer held 9.5 s: the timer's cancel, then two tasks with nothing
    // that woke the workflow before them, then the marker.
    const events = history(
      'signal',
      'scheduled', // 2
      'started',
      'completed',
      'cancelled',
      'scheduled', // 6: after a command only
      'started',
      'completed',
      'scheduled', // 9: right after a completion
      'started',
      'completed',
      'marker',
      'timer',
      ...idle,
    );
    expect(localActivityHeartbeats(events)).toEqual(new Set(['6', '9']));
  });
});
