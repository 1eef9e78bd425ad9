//! Saving the workbook straight into its file. rust_xlsxwriter writes the zip into any
//! `Write + Send`; the report's output is a `&mut dyn Write`, so the zip is made on a scoped
//! thread and handed over in chunks: the file never has to fit in memory whole.

use std::io::{self, Write};
use std::sync::mpsc::{SyncSender, sync_channel};

use rust_xlsxwriter::{Workbook, XlsxError};

/// Why saving failed: the workbook writer, the output, or a panic of the writer's.
pub(super) enum SaveError {
    Workbook(XlsxError),
    Output(io::Error),
    Panic(String),
}

/// Write `book` into `out` in chunks of `chunk` bytes.
pub(super) fn save(
    book: &mut Workbook,
    out: &mut dyn Write,
    chunk: usize,
) -> Result<(), SaveError> {
    let (tx, rx) = sync_channel::<Vec<u8>>(2);
    std::thread::scope(|scope| {
        let saver = scope.spawn(move || book.save_to_writer(Chunks::new(tx, chunk)));
        let mut written = Ok(());
        for chunk in rx.iter() {
            if let Err(e) = out.write_all(&chunk) {
                written = Err(e);
                break;
            }
        }
        // With the receiver gone, the writer's next chunk fails and it stops.
        drop(rx);
        let saved = saver.join();
        written.map_err(SaveError::Output)?;
        match saved {
            Ok(result) => result.map_err(SaveError::Workbook),
            Err(panic) => Err(SaveError::Panic(panic_message(panic.as_ref()))),
        }
    })
}

pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the workbook writer failed".into())
}

/// Bytes gathered into chunks and sent to the thread that writes the file.
struct Chunks {
    buf: Vec<u8>,
    chunk: usize,
    tx: SyncSender<Vec<u8>>,
}

impl Chunks {
    fn new(tx: SyncSender<Vec<u8>>, chunk: usize) -> Chunks {
        Chunks {
            buf: Vec::with_capacity(chunk),
            chunk,
            tx,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk));
        self.tx
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the output stopped"))
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.chunk {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl Drop for Chunks {
    /// The zip's last bytes. If they cannot be sent the output has already failed, and says so.
    fn drop(&mut self) {
        let _ = self.send();
    }
}
