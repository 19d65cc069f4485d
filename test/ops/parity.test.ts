/**
 * PyTorch parity: every case of scripts/fixtures/ops.py, forward and gradients, on the
 * fixture's own inputs, on every available backend. Forward to rtol 1e-5, gradients to rtol
 * 1e-4 (float32).
 */
import { parityTests } from '../helpers/parity.js';
import { CASES } from './cases.js';

parityTests('ops.safetensors', CASES, 'parity');
