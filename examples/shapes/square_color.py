# Question: What color is the square?  (stream: fmprog.backends.embedded.generate_stream, question="square_color")
def execute_command(image):
    image_patch = ImagePatch(image)
    squares = image_patch.find("square")
    if len(squares) == 0:
        return image_patch.simple_query("What color is the square?")
    return squares[0].simple_query("What color is the square?")
