// The operations suite again, with every worker forked with a bus pipe (as startCluster forks them).
import { useBusPipe } from '../../helpers/cluster.js';
import '../operations.test.js';

useBusPipe();
