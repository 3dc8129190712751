import { z } from 'zod';
import { AGENT_ID_PATTERN, SESSION_ID_PATTERN } from '../core/ids.js';

/** Argument schemas shared by several tools. */
export const sessionIdArg = z
  .string()
  .regex(SESSION_ID_PATTERN, 'must look like session_ followed by 16 hex digits (from create_session)')
  .describe('The session id, e.g. session_0123456789abcdef.');

export const agentIdArg = z
  .string()
  .regex(AGENT_ID_PATTERN, 'must be 1–100 characters of letters, digits, ".", "_", ":" or "-"');

export const metadataArg = z
  .record(z.string(), z.unknown())
  .optional()
  .describe('Free-form JSON object stored with the item.');

export const messageIdArg = z.number().int().positive();

export const isoTimeArg = z.iso.datetime({ offset: true, local: false });
