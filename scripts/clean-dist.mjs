// Removes dist/ before a build so that modules deleted from lib/ never linger in the packed tarball.
import { rmSync } from 'node:fs';
import path from 'node:path';

rmSync(path.resolve(import.meta.dirname, '..', 'dist'), { recursive: true, force: true });
