// The no-handler suite again, with every worker forked with a bus pipe (as startCluster forks them).
import { useBusPipe } from '../../helpers/cluster.js';
import '../no-handler.test.js';

useBusPipe();
