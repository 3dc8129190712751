import { randomBytes } from 'node:crypto';

export const newSessionId = (): string => `session_${randomBytes(8).toString('hex')}`;

export const SESSION_ID_PATTERN = /^session_[0-9a-f]{16}$/;

/** Agent ids are caller-chosen: 1–100 characters of `[A-Za-z0-9._:-]`. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;
