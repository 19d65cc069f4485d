/**
 * PyTorch parity of the ops a port needs (scripts/fixtures/ops_port.py), forward and gradients,
 * on every available backend, plus float64 finite differences for every case with a gradient.
 */
import { gradcheckTests, parityTests } from '../helpers/parity.js';
import { PORT_CASES } from './port-cases.js';

parityTests('ops-port.safetensors', PORT_CASES, 'port parity');
gradcheckTests('ops-port.safetensors', PORT_CASES, 'port gradcheck');
