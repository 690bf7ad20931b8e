# Question: Is there a red circle?  (stream: fmprog.backends.embedded.generate_stream, question="red_circle")
def execute_command(image):
    image_patch = ImagePatch(image)
    circles = image_patch.find("circle")
    for circle in circles:
        if circle.verify_property("circle", "red"):
            return "yes"
    return "no"
