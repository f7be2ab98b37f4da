/** Reading a Dockerfile and a .dockerignore the way docker build does (enough for the checks here). */
export interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const out: Instruction[] = [];
  let buf = '';
  let stage = -1;
  for (const raw of lines) {
    if (/^\s*#/.test(raw) && buf === '') continue;
    if (/^\s*#/.test(raw)) continue; // comment inside a continued instruction
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      continue;
    }
    buf += line;
    if (buf.trim()) {
      const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf)!;
      const op = m[1].toUpperCase();
      if (op === 'FROM') stage++;
      out.push({ op, args: m[2].trim(), stage });
    }
    buf = '';
  }
  return out;
}

/** Minimal .dockerignore semantics: last matching pattern wins, `!` re-includes, `*` within a segment, `**` any depth. */
export function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(`^${p.split('/').map((seg) => (seg === '**' ? '(?:.*)' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))).join('/').replace('(?:.*)/', '(?:.*/)?')}(?:/.*)?$`);
    if (re.test(path)) ignored = !negate;
  }
  return ignored;
}
