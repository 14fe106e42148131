// The React app, loaded by the page entry (boot.ts) once it has asked for the light node; the service worker is
// registered by the app (App.tsx).
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import './styles.css'

createRoot(document.getElementById('root')!).render(<StrictMode><App /></StrictMode>)
