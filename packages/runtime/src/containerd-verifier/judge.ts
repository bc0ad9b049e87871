// The verifier's judge: the image in its registry judged by a dsv policy file (containers-policy.json plus
// dsvSigned) over every signature format dsv reads, as `dsv verify --policy` judges it (detached/judgeImage).
import { createContext } from '../context.js';
import { judgeImage, loadPolicy } from '../detached/index.js';
import type { ImageJudge } from './main.js';

export const policyJudge: ImageJudge = async ({ reference, policy, env }) => {
  const loaded = await loadPolicy(policy);
  const ctx = await createContext({ env, references: [reference] });
  const j = await judgeImage(ctx, reference, loaded);
  const each = j.requirements.map((r) => `${r.type} ${r.allowed ? 'satisfied' : 'not satisfied'}: ${r.reason}`);
  return {
    allowed: j.allowed,
    manifestDigest: j.manifestDigest,
    reason: `${j.allowed ? 'accepted' : 'rejected'} by ${policy} (${j.scope}): ${each.join('; ') || 'no requirements'}`,
    details: [`${j.allowed ? 'accepted' : 'rejected'} by ${policy} (${j.scope})`, ...j.requirements.flatMap((r) => [
      `  ${r.type}: ${r.allowed ? 'satisfied' : 'not satisfied'}: ${r.reason}`,
      ...r.signatures.map((s) => `    ${s.format} signature from ${s.origin}: ${s.accepted ? 'accepted' : 'not accepted'}`),
    ])],
  };
};
