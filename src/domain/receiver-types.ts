/**
 * The registries a receiver can take notifications from. Apart from the receiver's schema (src/receivers/spec.ts)
 * so that the web console's form lists the same types without bundling the server's verification code.
 */
export const RECEIVER_TYPES = [
  'distribution',
  'dockerhub',
  'github',
  'harbor',
  'quay',
  'gar',
  'ecr',
  'generic-hmac',
] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];
