import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './style.css';

function App() {
  return <main><h1>labbook</h1></main>;
}

render(<App />, document.getElementById('app')!);
