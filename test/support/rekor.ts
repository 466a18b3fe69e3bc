import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { json } from '@sigstore/core';
import { sendJson, startServer, TestServer } from './http-server';

/**
 * A transparency log standing in for Rekor (which cannot run here), speaking the part of Rekor's v1 REST API
 * cosign calls when it signs with `--rekor-url`: `POST /api/v1/log/entries` answers a log entry with its
 * signed entry timestamp (SET: the log's ECDSA P-256 signature over the canonical JSON of body, integratedTime,
 * logIndex and logID), and `GET /api/v1/log/publicKey`. There is no Merkle tree: entries carry no inclusion
 * proof, as Rekor's answers before inclusion proofs did (a SET is what cosign's v1 bundle annotation holds).
 */
export class TestRekor {
  private index = 0;
  /** The entry's time as the log states it (seconds); the real time unless a test sets it. */
  clock: () => number = () => Math.floor(Date.now() / 1000);
  /**
   * A log that states one time and signs another: its SET is over `integratedTime + 3600`, so an entry whose
   * time was moved after signing is what a verifier sees.
   */
  tamper = false;

  private constructor(
    private readonly server: TestServer,
    private readonly key: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  static async start(): Promise<TestRekor> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // The handler needs the log, the log needs the server: the first request comes after both exist.
    const self: { rekor?: TestRekor } = {};
    const server = await startServer((req, res) => self.rekor?.answer(req.method, req.url, req.body, res));
    self.rekor = new TestRekor(server, privateKey, publicKey);
    return self.rekor;
  }

  get url(): string {
    return this.server.url;
  }

  /** The log's ID: the SHA-256 of its public key's DER (SubjectPublicKeyInfo), as Rekor names it. */
  get logId(): Buffer {
    return createHash('sha256')
      .update(this.publicKey.export({ type: 'spki', format: 'der' }))
      .digest();
  }

  /** The log as a trusted root lists it (`tlogs` of trusted_root.json). */
  trustedRootEntry(): object {
    return {
      baseUrl: this.url,
      hashAlgorithm: 'SHA2_256',
      publicKey: {
        rawBytes: this.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        keyDetails: 'PKIX_ECDSA_P256_SHA_256',
        validFor: { start: '2020-01-01T00:00:00Z' },
      },
      logId: { keyId: this.logId.toString('base64') },
    };
  }

  /** The proposed entries the log took, by their order. */
  get entries(): unknown[] {
    return this.server.requests
      .filter((r) => r.method === 'POST' && r.url === '/api/v1/log/entries')
      .map((r) => JSON.parse(r.body) as unknown);
  }

  private answer(method: string, url: string, body: string, res: ServerResponse) {
    if (method === 'GET' && url === '/api/v1/log/publicKey') {
      res.setHeader('content-type', 'application/x-pem-file');
      res.end(this.publicKey.export({ type: 'spki', format: 'pem' }));
      return;
    }
    if (method !== 'POST' || url !== '/api/v1/log/entries')
      return sendJson(res, 404, { code: 404, message: `${method} ${url} is not served by this test log` });
    const canonical = Buffer.from(json.canonicalize(canonicalEntry(JSON.parse(body)))).toString('base64');
    const integratedTime = this.clock();
    const logIndex = this.index++;
    const logID = this.logId.toString('hex');
    const signedTime = this.tamper ? integratedTime + 3600 : integratedTime;
    const set = sign(
      'sha256',
      Buffer.from(json.canonicalize({ body: canonical, integratedTime: signedTime, logIndex, logID })),
      this.key,
    );
    const uuid = randomBytes(32).toString('hex');
    res.setHeader('location', `/api/v1/log/entries/${uuid}`);
    sendJson(res, 201, {
      [uuid]: {
        body: canonical,
        integratedTime,
        logID,
        logIndex,
        verification: { signedEntryTimestamp: set.toString('base64') },
      },
    });
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The entry Rekor stores for a proposed one, in canonical JSON (RFC 8785) the SET covers: a `hashedrekord` as
 * proposed; a `dsse` (what `cosign attest` proposes: the envelope and its verifiers) reduced to the envelope's
 * and payload's hashes and the signatures with their verifiers, as Rekor's dsse v0.0.1 type canonicalizes it.
 */
function canonicalEntry(proposed: {
  kind?: string;
  apiVersion?: string;
  spec?: { proposedContent?: { envelope: string; verifiers: string[] } };
}): unknown {
  const content = proposed.spec?.proposedContent;
  if (proposed.kind !== 'dsse' || content === undefined) return proposed;
  const envelope = JSON.parse(content.envelope) as { payload: string; signatures: { sig: string }[] };
  return {
    apiVersion: proposed.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(content.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((s) => ({ signature: s.sig, verifier: content.verifiers[0] })),
    },
  };
}
