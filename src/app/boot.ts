// The page's entry (index.html): asks for the light node first, then loads the React app. The app's script is the
// larger part of the page by far; with this order the node's worker loads and reads its store beside it rather
// than after it (early-connection.ts hands the connection to the app). A reload with a saved status paints that
// first and starts the node after (early-connection.ts).
import { connectEarly } from './early-connection'

performance.mark('coffer: node connecting')
connectEarly()
void import('./main')
